{#-
  One row per event that counts: deduplicated in staging, enriched with the event and
  feature catalogs.

  Incremental, Snowplow's way: the run window is the staged rows written since this
  model's newest row (the new data's limits, by arrival, so a late event is never
  skipped), upserted on event_id. The lookback bounds lateness: an event received more
  than `late_event_lookback_days` after the end of its event day does not count, here
  or in a full refresh, so every incremental model downstream only ever recomputes
  recent days. Such events stay in staging and are listed in int_events_beyond_lookback.

  Stored partitioned by month of event_date (macros/partitioned_incremental.sql), so a
  night's reads and writes touch one or two partitions. A unique index on a partitioned
  table must hold the partition key: (event_date, event_id), the day first, so that a
  night's inserts land together at the index's end instead of on nearly every leaf of
  it (the random event_id first cost 2 s of the xl night's write). event_id stays unique
  because the upsert first deletes the rows of the ids staging marks as replacing a
  stored row (`_may_replace`), on every day staging ever had a row of theirs on
  (`_replaced_event_dates`), or by event_id alone where staging cannot tell
  (docs/incremental.md "Deleting only what is replaced"); the star suite checks that no
  event_id is on two days.

  Each index is read by a night (docs/incremental.md, "Indexes a night pays for"): the
  key by the upsert and, by its day, the first new day; `_updated_at` by every
  downstream window, (tenant, user, day) by the touched-rows joins and erasure,
  `session_id` by the client sessions. A (tenant, day) index was read by nothing and
  cost every insert, and an `event_date` index repeated the key's first column. The
  partial index over session-less active events (under 2 % of events) is what
  int_sessions_inferred reads of a touched user: without it, every event of the user's
  history, to keep those few. The one over support events (about 0.05 %) is what
  ml_tenant_feature_snapshots counts tickets from: without it, a scan of every event.
-#}
{{
    config(
        materialized='partitioned_incremental',
        partition_by='event_date',
        unique_key='event_id',
        replaces_flag='_may_replace',
        replaced_days='_replaced_event_dates',
        indexes=[
            {'columns': ['event_date', 'event_id'], 'unique': True},
            {'columns': ['_updated_at']},
            {'columns': ['tenant_id', 'user_id', 'event_date']},
            {'columns': ['session_id']},
        ],
        post_hook=[
            "{{ analytics_consent_post_hook('event_at') }}",
            "{{ pulse_partial_index('sessionless_active',
                                    ['tenant_id', 'user_id', 'event_at', 'event_id'],
                                    'session_id is null and is_active_event') }}",
            "{{ pulse_partial_index('support_days', ['tenant_id', 'event_date'],
                                    \"event_category = 'support'\") }}",
        ],
    )
}}
-- rows an analytics_tracking withdrawal covers are removed after each build, even when
-- the withdrawal arrived late (docs/privacy.md)
-- depends_on: {{ ref('int_user_consent_changes') }}

with

staged as (

    select * from {{ ref('stg_pulse__events') }}
    where {{ pulse_new_rows() }}
        and {{ pulse_within_lookback('received_at', 'event_date') }}

),

event_catalog as (

    select * from {{ ref('event_catalog') }}

),

feature_catalog as (

    select * from {{ ref('feature_catalog') }}

),

enriched as (

    select
        staged.event_id,
        staged.tenant_id,
        staged.user_id,
        staged.session_id,
        staged.event_name,
        coalesce(event_catalog.category, 'uncatalogued') as event_category,
        coalesce(event_catalog.counts_as_active, false) as is_active_event,
        staged.event_at,
        staged.event_date,
        staged.received_at,
        -- A feature the catalog does not list (a tracking-plan typo, a feature shipped
        -- before the catalog knew it) maps to dim_features' unknown member, as unknown
        -- event names map to the 'uncatalogued' category: the night still builds, and
        -- the star suite warns with the names sent (still in properties).
        case
            when feature_catalog.feature_name is not null then staged.feature_name
            when staged.feature_name is not null then 'uncatalogued'
        end as feature_name,
        coalesce(feature_catalog.is_core, false) as is_core_feature,
        staged.schema_version,
        staged.device_type,
        staged.browser,
        staged.os,
        staged.page_url,
        staged.utm_source,
        staged.utm_medium,
        staged.utm_campaign,
        staged.first_touch_channel,
        staged.last_touch_channel,
        staged.properties,
        now() as _updated_at
        {%- if is_incremental() %},
        -- which rows may replace a stored one (stg_pulse__events), and the days such
        -- rows may be on: the write deletes only those (day, id) first; not columns of
        -- the table (the contract leaves them out)
        staged._may_replace,
        staged._replaced_event_dates
        {%- endif %}
    from staged
    left join event_catalog
        on staged.event_name = event_catalog.event_name
    left join feature_catalog
        on staged.feature_name = feature_catalog.feature_name

)

select * from enriched
