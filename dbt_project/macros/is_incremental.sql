{#- dbt's is_incremental(), also true for the partitioned_incremental materialization
    (macros/partitioned_incremental.sql): its models use the same incremental SQL. -#}
{% macro is_incremental() %}
    {% if not execute %}
        {{ return(False) }}
    {% else %}
        {% set relation = adapter.get_relation(this.database, this.schema, this.table) %}
        {{ return(relation is not none
                  and relation.type == 'table'
                  and model.config.materialized in ('incremental', 'partitioned_incremental')
                  and not should_full_refresh()) }}
    {% endif %}
{% endmacro %}
