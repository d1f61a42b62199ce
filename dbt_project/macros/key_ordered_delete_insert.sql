{#-
  Incremental strategy `key_ordered_delete_insert`: dbt's delete+insert on one key
  column, with the night's keys probed and inserted in key order. A night's keys are
  random (event ids) and the key's unique index is larger than the buffer cache: in the
  hash order of dbt's `where key in (select ...)` nearly every probe reads a leaf page of
  its own (or the planner scans the whole table for a hash join); in key order,
  consecutive keys share leaf pages, and the insert's uniqueness checks find the leaves
  the delete has just read (docs/incremental.md, "A night's writes in key order").
  `partitioned_incremental` writes the same way.

  Config `replaces_flag` (a boolean column of the model): only the keys of rows where it
  is true or null (unknown) are deleted first; a row where it is false says no row of its
  key is stored (docs/incremental.md "Deleting only what is replaced"). Without it, every
  key is.
-#}
{% macro get_incremental_key_ordered_delete_insert_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set key = arg_dict["unique_key"] -%}
    {%- if key is not string -%}
        {{ exceptions.raise_compiler_error(
            "key_ordered_delete_insert needs unique_key to be one column, not " ~ key) }}
    {%- endif -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    {{ pulse_key_ordered_delete(target, source, key, config.get('replaces_flag')) }}
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }} order by {{ key }}
{%- endmacro %}

{#- Delete the rows of `target` whose `key` is in `source` (those where the boolean column
    `replaces_flag` of `source` is not false, if given), probing the key's index in key order
    (a nested loop; hash and merge joins are off for this statement alone). -#}
{% macro pulse_key_ordered_delete(target, source, key, replaces_flag=none) -%}
    set local enable_hashjoin = off;
    set local enable_mergejoin = off;
    delete from {{ target }} as stored
    using (
        select distinct {{ key }} from {{ source }}
        {%- if replaces_flag %} where {{ replaces_flag }} is not false{% endif %}
        order by 1
    ) as staged
    where stored.{{ key }} = staged.{{ key }};
    reset enable_hashjoin;
    reset enable_mergejoin;
{%- endmacro %}
