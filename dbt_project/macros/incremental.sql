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

{#- True when the model's relations can be queried before its SQL runs: an incremental
    run of a real model (a unit test's `this` and refs are CTEs of its fixtures). -#}
{% macro pulse_can_query_ahead() -%}
    {{ return(execute and is_incremental() and not (this | string).startswith('__dbt__cte__')) }}
{%- endmacro %}

{#- This model's newest row, as a literal computed before the model's SQL runs: a
    subquery here would leave the planner guessing its value and hash-join whole tables
    (docs/incremental.md). -#}
{% macro pulse_watermark(column='_updated_at') -%}
    {%- if pulse_can_query_ahead() -%}
        {%- set newest = run_query(
            "select coalesce(max(" ~ column ~ "), '-infinity'::timestamptz)::text from " ~ this
        ).columns[0].values()[0] -%}
        '{{ newest }}'::timestamptz
    {%- else -%}
        (select coalesce(max({{ column }}), '-infinity'::timestamptz) from {{ this }})
    {%- endif -%}
{%- endmacro %}

{#- The first event day among the fct_events rows written since this model's newest row,
    as a literal ('infinity' when there are none): the lower bound of the days an
    incremental model recomputes, so its reads of event-grain tables use their event_date
    index instead of scanning all of history. -#}
{% macro pulse_first_new_event_date() -%}
    {%- set sql = "select coalesce(min(event_date), 'infinity'::date){} from ("
        ~ pulse_new_rows_fenced('event_date', ref('fct_events')) ~ ") as new_rows" -%}
    {%- if pulse_can_query_ahead() -%}
        '{{ run_query(sql.replace('{}', '::text')).columns[0].values()[0] }}'::date
    {%- elif is_incremental() -%}
        ({{ sql.replace('{}', '') }})
    {%- else -%}
        '-infinity'::date
    {%- endif -%}
{%- endmacro %}

{#- `column` of the rows of `relation` written since this model's newest row, for a min()
    over them. `offset 0` keeps the subquery apart: flattened, PostgreSQL answers min()
    by walking the index on `column` in order until a row passes the `_updated_at`
    filter, which reads the whole index when few rows or none are new (3.7 s on the peer
    data set at day 180 with nothing new); apart, the `_updated_at` index finds the new
    rows directly (docs/incremental.md). -#}
{% macro pulse_new_rows_fenced(column, relation) -%}
    select {{ column }} from {{ relation }} where _updated_at > {{ pulse_watermark() }} offset 0
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
{#- `date_column`, when the keys hold an event day, bounds both sides of the join to the
    days the new rows touch (pulse_first_new_event_date). `probe_each_key` reads each
    touched key's rows by itself (a nested loop over the keys' index, whatever the
    planner estimates). -#}
{% macro pulse_rows_touched_by_new_data(relation, keys, date_column=none, probe_each_key=false) -%}
    {%- if not is_incremental() %}
    select {{ relation }}.*
    from {{ relation }}
    {%- elif probe_each_key %}
    {#- Each touched key's rows read by itself, through the keys' index: a lateral
        subquery behind `offset 0`, which the planner cannot turn into a hash join. For a
        key whose touched count it cannot see: some nights int_sessions_client's
        semijoin became a hash join over a scan of every session's events (5.1 s instead
        of 1.6 s at the xl bench's size, docs/incremental.md). #}
    select {{ relation }}.*
    from (
        select distinct {{ keys | join(', ') }}
        from {{ relation }}
        where {{ pulse_new_rows() }}
        order by {{ keys | join(', ') }}
    ) as touched
    cross join lateral (
        select *
        from {{ relation }} as keyed
        where {% for key in keys -%}
            keyed.{{ key }} = touched.{{ key }}{{ ' and ' if not loop.last }}
        {%- endfor %}
        offset 0
    ) as {{ relation }}
    {%- elif date_column %}
    {%- set from_day = pulse_first_new_event_date() %}
    {#- Keys with an event day (a model of one row per user and day): a join with the
        touched keys in key order rather than `(keys) in (...)`. The planner then probes
        the keys' index in that order and knows its output comes in it, so the model
        aggregates what it read without sorting it (fct_daily_user_activity's night at
        the xl bench's size: 1.98 M events, 2.9 s -> 1.4 s; docs/incremental.md "A
        night's reads in key order"). Equal to the semijoin: the keys are distinct, and a
        null key matches nothing either way. Other keys (a session, a user) keep the
        semijoin, or probe each key: joined this way, int_sessions_client's estimate grew
        and its plan turned to a hash join over a scan of every session's events. #}
    select {{ relation }}.*
    from (
        select distinct {{ keys | join(', ') }}
        from {{ relation }}
        where {{ pulse_new_rows() }}
            and {{ date_column }} >= {{ from_day }}
        order by {{ keys | join(', ') }}
    ) as touched
    inner join {{ relation }}
        on {% for key in keys -%}
            {{ relation }}.{{ key }} = touched.{{ key }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    where {{ relation }}.{{ date_column }} >= {{ from_day }}
    {%- else %}
    select {{ relation }}.*
    from {{ relation }}
    where ({{ keys | join(', ') }}) in (
        select {{ keys | join(', ') }}
        from {{ relation }}
        where {{ pulse_new_rows() }}
    )
    {%- endif %}
{%- endmacro %}

{#- The first snapshot day a model keyed by (user, snapshot day) with labels looking
    `horizon` days ahead recomputes, as a literal: the first activity day written since
    its newest row, or the first day not yet snapshotted, less the horizon; 'infinity'
    (nothing) when neither exists; '-infinity' (everything) on a full refresh. -#}
{% macro pulse_snapshot_window_from(horizon, date_column='snapshot_date') -%}
    {%- if pulse_can_query_ahead() -%}
        {%- set activity = ref('fct_daily_user_activity') -%}
        {%- set sql -%}
            select coalesce(least(
                (select min(activity_date)
                 from ({{ pulse_new_rows_fenced('activity_date', activity) }}) as new_rows),
                (select max({{ date_column }}) + 1 from {{ this }}
                 having max({{ date_column }}) < (select max(activity_date) from {{ activity }}))
            ) - {{ horizon }}, 'infinity'::date)::text
        {%- endset -%}
        '{{ run_query(sql).columns[0].values()[0] }}'::date
    {%- else -%}
        '-infinity'::date
    {%- endif -%}
{%- endmacro %}
