{#-
  Data tests scoped to the run window (docs/incremental.md): a test configured with
  `where: "_updated_at >= @run_started_at"` checks only the rows this dbt invocation
  wrote (every row on a full refresh, none on a night with nothing new). The marker is
  replaced here, when the test runs, by the invocation's start as a literal: a config
  string is rendered once at parse time and dbt reuses parses between runs, so the
  time cannot be written into the config itself. The history the scoped tests no longer
  read stays honest through the models' unique indexes.
  `where: "@full_refresh"` runs a test only in a full refresh (`--full-refresh`, as in
  CI's builds and a deploy's): for a view whose key follows from upstream keys tested
  every night, which a nightly test would recompute whole.
-#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set started = "'" ~ run_started_at.isoformat() ~ "'::timestamptz" -%}
        {%- set full_refresh = 'true' if flags.FULL_REFRESH else 'false' -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where | replace('@run_started_at', started) | replace('@full_refresh', full_refresh) }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
