{#-
  An incremental model stored as a table partitioned by month (docs/incremental.md):
  dbt-postgres creates tables with `create table as`, which cannot declare partitions,
  and its full refresh builds a new table and swaps it in, so this materialization keeps
  the parent itself.

  Config: `partition_by` (a date column), `unique_key` (one column), `indexes` (created on
  the parent; PostgreSQL creates them on every partition), `partitions_ahead` (months
  created past the newest row, default 1), `replaces_flag` (a boolean column the model
  selects only when incremental, not in its contract: only the keys of rows where it is
  not false are deleted before the insert; macros/key_ordered_delete_insert.sql),
  `replaced_days` (a JSON array of dates, selected likewise: the days of `partition_by`
  such a key's stored rows may be on, so they are deleted through a unique index that
  leads with `partition_by`; null: not known, and the key's rows are then found by the
  key alone, which reads the whole table). The
  model's rows are staged in a temporary table; the months they fall in (and the months
  ahead) get their partitions, in schema `<schema>_partitions`, which nobody is granted
  (reads go through the parent, where the grants and row-level security are); then the
  rows are upserted on unique_key. A full refresh, a missing relation or a relation that
  is not partitioned recreates the parent first. `is_incremental()` is true as for the
  `incremental` materialization, and false where this one rebuilds
  (macros/is_incremental.sql).
-#}
{% materialization partitioned_incremental, adapter='postgres' -%}

    {%- set existing = load_cached_relation(this) -%}
    {%- set target = this.incorporate(type='table') -%}
    {%- set stage = make_temp_relation(target) -%}
    {%- set partition_by = config.require('partition_by') -%}
    {%- set unique_key = config.require('unique_key') -%}
    {%- set grant_config = config.get('grants') -%}
    {%- set rebuild = existing is none or should_full_refresh()
        or not pulse_is_partitioned(target) -%}
    {%- set columns = adapter.dispatch('get_column_names', 'dbt')() -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% call statement('stage') -%}
        create temporary table {{ stage }} as (
            {{ sql }}
        )
    {%- endcall %}

    {% if rebuild %}
        {% call statement('create_parent') -%}
            {{ get_assert_columns_equivalent(sql) }}
            drop table if exists {{ target }} cascade;
            create table {{ target }}
            {{ get_table_columns_and_constraints() }}
            partition by range ({{ partition_by }})
        {%- endcall %}
    {% endif %}

    {% call statement('partitions') -%}
        {{ pulse_create_month_partitions(target, stage, partition_by,
                                         config.get('partitions_ahead', 1)) }}
    {%- endcall %}

    {% call statement('main') -%}
        {% if not rebuild -%}
        {%- if config.get('replaced_days') -%}
        {{ pulse_delete_replaced_on_their_days(target, stage, partition_by, unique_key,
                                               config.require('replaces_flag'),
                                               config.get('replaced_days')) }}
        {%- else -%}
        {#- in key order, as macros/key_ordered_delete_insert.sql says why -#}
        {{ pulse_key_ordered_delete(target, stage, unique_key, config.get('replaces_flag')) }}
        {%- endif %}
        insert into {{ target }} ({{ columns }})
        select {{ columns }} from {{ stage }} order by {{ partition_by }}, {{ unique_key }}
        {%- else -%}
        insert into {{ target }} ({{ columns }})
        select {{ columns }} from {{ stage }}
        {%- endif %}
    {%- endcall %}

    {% if rebuild %}
        {#- After the rows, not before: building an index over rows already there is several
            times cheaper than maintaining it row by row (fct_events' six indexes on a full
            refresh, docs/incremental.md). Still one transaction: nobody sees the table
            without them. -#}
        {% do create_indexes(target) %}
    {% endif %}

    {% do apply_grants(target, grant_config, should_revoke=should_revoke(existing, rebuild)) %}
    {% do persist_docs(target, model) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target]}) }}

{%- endmaterialization %}

{% macro pulse_is_partitioned(relation) -%}
    {%- set found = run_query(
        "select count(*) from pg_partitioned_table p join pg_class c on c.oid = p.partrelid"
        ~ " join pg_namespace n on n.oid = c.relnamespace"
        ~ " where n.nspname = '" ~ relation.schema ~ "' and c.relname = '" ~ relation.identifier ~ "'"
    ).columns[0].values()[0] -%}
    {{ return(found | int > 0) }}
{%- endmacro %}

{#- One partition per calendar month of `column` in `source`, from its first month to
    `ahead` months past its last; existing ones are kept. Partitions are named
    <parent>_<yyyy>_<mm>. -#}
{% macro pulse_create_month_partitions(relation, source, column, ahead=1) -%}
do $pulse$
declare
    month date;
begin
    execute 'create schema if not exists {{ relation.schema }}_partitions';
    for month in
        select generate_series(
            date_trunc('month', min({{ column }})),
            date_trunc('month', max({{ column }})) + interval '{{ ahead }} month',
            interval '1 month'
        )::date
        from {{ source }}
    loop
        execute format(
            'create table if not exists %I.%I partition of %I.%I for values from (%L) to (%L)',
            '{{ relation.schema }}_partitions',
            '{{ relation.identifier }}_' || to_char(month, 'YYYY_MM'),
            '{{ relation.schema }}', '{{ relation.identifier }}',
            month, (month + interval '1 month')::date
        );
    end loop;
end
$pulse$
{%- endmacro %}

{#- Delete the stored rows the staged rows replace (`flag` not false): on each day of their
    `days` array, through the unique (`day_column`, `key`) index, in that index's order (a
    nested loop; hash and merge joins are off for this statement alone). Keys whose days
    are not known (null) are deleted by the key alone, a read of the whole table, and
    only when there are any (a staging table built whole says it cannot tell). -#}
{% macro pulse_delete_replaced_on_their_days(target, source, day_column, key, flag, days) -%}
    {%- set unknown = run_query(
        "select count(*) from " ~ source ~ " where " ~ flag ~ " is not false and "
        ~ days ~ " is null").columns[0].values()[0] | int -%}
    {%- if unknown > 0 %}
    delete from {{ target }}
    where {{ key }} in (
        select {{ key }} from {{ source }} where {{ flag }} is not false and {{ days }} is null
    );
    {%- endif %}
    set local enable_hashjoin = off;
    set local enable_mergejoin = off;
    delete from {{ target }} as stored
    using (
        select distinct replaced.day::date as day, staged.{{ key }}
        from {{ source }} as staged
        cross join lateral jsonb_array_elements_text(staged.{{ days }}) as replaced (day)
        where staged.{{ flag }} is not false
        order by 1, 2
    ) as old
    where stored.{{ day_column }} = old.day and stored.{{ key }} = old.{{ key }};
    reset enable_hashjoin;
    reset enable_mergejoin;
{%- endmacro %}
