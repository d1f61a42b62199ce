{#-
  An index over the rows a predicate picks (a partial index), as a post-hook: dbt's
  `indexes` config has no `where`. Named `<model>_<suffix>`; `if not exists`, so a night
  finds it in the catalog and moves on, and a full refresh, which recreates the table,
  builds it again after the rows. On a partitioned table it is created on the parent,
  and PostgreSQL creates it on every partition, those made later included.
-#}
{% macro pulse_partial_index(suffix, columns, where) -%}
    create index if not exists {{ this.identifier }}_{{ suffix }}
    on {{ this }} ({{ columns | join(', ') }})
    where {{ where }}
{%- endmacro %}
