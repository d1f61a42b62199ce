{#-
  One row per event_id: the earliest received copy wins (ties: first loaded). Typed from
  the JSONB payload; v1 and v2 envelopes unified (attribution is null for v1).

  Incremental by load batch rather than a view, because deduplicating the whole raw table
  on every build would make each nightly increment cost as much as the history. The run
  window is every raw batch newer than the newest batch already staged; the candidates
  for each id in that window are compared with the copy already staged, and a row is
  written only when the id is new or an earlier copy turned up.
  Indexed on _batch_id for that window's lower bound, read at every run, and on
  event_name for int_user_consent_changes, which reads the few consent events every
  night (docs/incremental.md).
-#}
{#- on_schema_change: a warehouse staged before _may_replace existed gets the column,
    null (unknown) in its rows, whose ids are then deleted first as every id used to be.
    _replaced_event_dates is read from the stored rows, so the pre-hook adds it before the
    select (on_schema_change only adds columns after it); null in the rows staged before:
    no day known before theirs. -#}
{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='key_ordered_delete_insert',
        replaces_flag='_may_replace',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['event_id'], 'unique': True},
            {'columns': ['_updated_at']},
            {'columns': ['tenant_id', 'event_date']},
            {'columns': ['_batch_id']},
            {'columns': ['event_name']},
        ],
        pre_hook="alter table if exists {{ this }}
                  add column if not exists _replaced_event_dates jsonb",
    )
}}

{#- The window's size is a subquery the planner cannot see, so it guesses a third of raw
    and would sort every new copy, payload and all, to merge-join it with the few losing
    copies: a hash anti-join reads the new copies once, in any order. -#}
{% call set_sql_header(config) %}
set local enable_mergejoin = off;
{%- endcall %}

with

-- Read twice (its keys, then its winners' payloads): not materialized, so the payload
-- is never copied into a work table; each read is a scan of the window's batches.
new_copies as not materialized (

    select * from {{ source('pulse_raw', 'events') }}
    {% if is_incremental() %}
    where batch_id > (select coalesce(max(_batch_id), 0) from {{ this }})
    {% endif %}

),

new_keys as (

    select
        event_id,
        received_at,
        batch_id,
        line_number
    from new_copies

),

-- The new ids already staged (none on a full build), with every day a row of theirs was
-- ever staged on. The staged key index is probed in key order, as the write probes it (a
-- night's ids are random and the index outgrows the cache: in hash order nearly every
-- probe reads a leaf page of its own; macros/key_ordered_delete_insert.sql).
staged_ids as (

    {% if is_incremental() %}
    select
        staged.event_id,
        -- a JSON array of dates: dbt's unit tests cannot type a fixture's SQL array
        to_jsonb(array[staged.event_date]) || coalesce(staged._replaced_event_dates, '[]')
            as staged_dates
    from (
        select distinct event_id
        from new_keys
        order by event_id
    ) as new_ids
    inner join {{ this }} as staged
        on new_ids.event_id = staged.event_id
    {% else %}
    select null::text as event_id, null::jsonb as staged_dates
    where false
    {% endif %}

),

-- The ids with more than one copy to choose from: repeated among the new copies, or
-- already staged. Nearly every id has one copy, and only these are ranked.
contested_ids as (

    select event_id
    from new_keys
    group by event_id
    having count(*) > 1

    union

    select event_id from staged_ids

),

contested_copies as (

    select
        event_id,
        received_at,
        batch_id,
        line_number,
        true as is_new
    from new_keys
    where event_id in (select event_id from contested_ids)

    {% if is_incremental() %}
    union all

    select
        staged.event_id,
        staged.received_at,
        staged._batch_id,
        staged._line_number,
        false
    from {{ this }} as staged
    where staged.event_id in (select event_id from contested_ids)
    {% endif %}

),

-- New copies that lose to an earlier one of their id (new or staged): the earliest
-- received wins, ties to the first loaded. Ranked on these narrow columns alone, so no
-- payload goes through a sort.
losing_copies as (

    select
        batch_id,
        line_number
    from (
        select
            batch_id,
            line_number,
            is_new,
            row_number() over (
                partition by event_id
                order by received_at, batch_id, line_number
            ) as copy_rank
        from contested_copies
    ) as ranked
    where copy_rank > 1 and is_new

),

winners as (

    select new_copies.*
    from new_copies
    where not exists (
        select 1
        from losing_copies
        where losing_copies.batch_id = new_copies.batch_id
            and losing_copies.line_number = new_copies.line_number
    )

),

renamed as (

    select
        winners.event_id,
        tenant_id,
        payload ->> 'user_id' as user_id,
        payload ->> 'session_id' as session_id,
        payload ->> 'event_name' as event_name,
        payload ->> 'event_version' as event_version,
        split_part(payload ->> 'event_version', '.', 1)::int as schema_version,
        event_ts as event_at,
        (event_ts at time zone 'UTC')::date as event_date,
        received_at,

        -- personal keys hashed or removed, as the contract's "pii" attributes say
        {{ pii_scrubbed_map('properties') }} as properties,
        payload -> 'properties' ->> 'feature_name' as feature_name,
        {{ pii_scrubbed_map('user_properties') }} as user_properties,

        {{ pii_safe_field('context', 'page_url') }} as page_url,
        {{ pii_safe_field('context', 'referrer') }} as referrer,
        {{ pii_safe_field('context', 'device_type') }} as device_type,
        {{ pii_safe_field('context', 'browser') }} as browser,
        {{ pii_safe_field('context', 'os') }} as os,

        payload -> 'attribution' ->> 'utm_source' as utm_source,
        payload -> 'attribution' ->> 'utm_medium' as utm_medium,
        payload -> 'attribution' ->> 'utm_campaign' as utm_campaign,
        payload -> 'attribution' ->> 'first_touch_channel' as first_touch_channel,
        payload -> 'attribution' ->> 'last_touch_channel' as last_touch_channel,

        batch_id as _batch_id,
        line_number as _line_number,
        -- whether an earlier row of this id may exist, here or downstream: a copy that won
        -- over one staged before, or any row of a full build (which cannot tell). Only
        -- those ids are deleted before the insert, here and in fct_events; the others
        -- are new (docs/incremental.md "Deleting only what is replaced").
        {% if is_incremental() -%}
        replaced.event_id is not null
        {%- else -%}
        true
        {%- endif %} as _may_replace,
        -- and every day such rows were on: fct_events' key leads with the day, and finds
        -- them there (null: not known, as on a full build; found by event_id alone)
        replaced.staged_dates as _replaced_event_dates,
        now() as _updated_at
    from winners
    left join staged_ids as replaced
        on winners.event_id = replaced.event_id

)

select * from renamed
