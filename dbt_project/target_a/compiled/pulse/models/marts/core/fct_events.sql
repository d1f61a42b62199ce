

with

staged as (

    select * from "pulse_dev_a"."staging"."stg_pulse__events"
    where _updated_at > (select coalesce(max(_updated_at), '-infinity'::timestamptz) from "pulse_dev_a"."marts"."fct_events")
        and received_at < (event_date + 1 + 7)::timestamp at time zone 'UTC'

),

event_catalog as (

    select * from "pulse_dev_a"."reference"."event_catalog"

),

feature_catalog as (

    select * from "pulse_dev_a"."reference"."feature_catalog"

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
        staged.feature_name,
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
    from staged
    left join event_catalog
        on staged.event_name = event_catalog.event_name
    left join feature_catalog
        on staged.feature_name = feature_catalog.feature_name

)

select * from enriched