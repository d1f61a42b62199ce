{#- dbt's is_incremental(), also true for the partitioned_incremental materialization
    (macros/partitioned_incremental.sql): its models use the same incremental SQL. False
    where that materialization rebuilds anyway (a table there but not partitioned, as one
    an earlier version wrote), so the rebuild reads every row, not a night's. -#}
{% macro is_incremental() %}
    {% if not execute %}
        {{ return(False) }}
    {% else %}
        {% set relation = adapter.get_relation(this.database, this.schema, this.table) %}
        {% set materialized = model.config.materialized %}
        {{ return(relation is not none
                  and relation.type == 'table'
                  and materialized in ('incremental', 'partitioned_incremental')
                  and not should_full_refresh()
                  and (materialized != 'partitioned_incremental'
                       or pulse_is_partitioned(relation))) }}
    {% endif %}
{% endmacro %}
