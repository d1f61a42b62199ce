{#-
  dbt's grants (dbt_project.yml) name Pulse's roles, which a server where Pulse may not
  create roles does not have (docs/roles.md): grant to those that exist, so the build
  works there too, with no reader roles.
-#}
{% macro postgres__get_grant_sql(relation, privilege, grantees) %}
    {%- set existing = [] -%}
    {%- if execute and grantees -%}
        {%- set found = run_query(
            "select rolname from pg_roles where rolname in ('"
            ~ (grantees | map('replace', "'", "''") | join("', '")) ~ "')") -%}
        {%- set existing = found.columns[0].values() | list -%}
    {%- endif -%}
    {%- if existing -%}
        grant {{ privilege }} on {{ relation.render() }} to {{ existing | join(', ') }}
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}
