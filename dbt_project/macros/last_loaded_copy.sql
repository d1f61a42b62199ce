{#-
  The rule for exports landed more than once (a correction under a new file name): the
  last loaded copy of each key wins (docs/event-contract.md). Ranks each raw row among the
  copies of its key: 1 is the copy to keep, from the newest batch and, within one
  batch, the last line.
-#}
{% macro last_loaded_copy_rank(key_columns) %}
row_number() over (
    partition by {{ key_columns | join(', ') }}
    order by batch_id desc, line_number desc
)
{%- endmacro %}
