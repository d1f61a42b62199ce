{#-
  The one incremental pattern of this project.

  Every incremental model stamps its rows with `_updated_at` (the database clock when the
  row was written). A downstream model's run window is the set of upstream rows written
  after its own newest row: `where <upstream>._updated_at > {{ pulse_watermark() }}`.
  Because the window comes from when data arrived, not from event time, a late event is
  never skipped by a run; how late an event may be and still count is a definition,
  `late_event_lookback_days`, applied in fct_events to incremental runs and full
  refreshes alike. What a model recomputes from its window (the days, tenants or users
  touched) is its own business, and a full refresh computes the same rows from
  everything.
-#}

{% macro pulse_watermark(column='_updated_at') -%}
    (select coalesce(max({{ column }}), '-infinity'::timestamptz) from {{ this }})
{%- endmacro %}

{% macro pulse_new_rows(upstream_alias=none, column='_updated_at') -%}
    {%- if is_incremental() -%}
        {{ (upstream_alias ~ '.') if upstream_alias else '' }}{{ column }} > {{ pulse_watermark() }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- True when an event arrived within the lookback: received no later than
    `late_event_lookback_days` days after the end of its event day, that instant included
    (unit test fct_events_lookback_boundary_is_inclusive). int_events_beyond_lookback is
    its negation, so every staged event is on exactly one side. -#}
{% macro pulse_within_lookback(received_at, event_date) -%}
    {{ received_at }} <= ({{ event_date }} + 1 + {{ var('late_event_lookback_days') }})::timestamp at time zone 'UTC'
{%- endmacro %}

{#- The rows of `relation` (a CTE name) that share `keys` with a row written since this
    model's newest row: what an incremental model recomputes. All rows on a full
    refresh. -#}
{% macro pulse_rows_touched_by_new_data(relation, keys) -%}
    select {{ relation }}.*
    from {{ relation }}
    {%- if is_incremental() %}
    where ({{ keys | join(', ') }}) in (
        select {{ keys | join(', ') }}
        from {{ relation }}
        where {{ pulse_new_rows() }}
    )
    {%- endif %}
{%- endmacro %}
