{#-
  The accounts export typed: one row per tenant and export day. When an export day was
  landed more than once (a correction under a new file name), the last loaded copy wins.
-#}

with

source as (

    select * from {{ source('pulse_raw', 'accounts') }}

),

latest as (

    select
        *,
        {{ last_loaded_copy_rank(['tenant_id', 'export_date']) }} as copy_rank
    from source

),

renamed as (

    select
        tenant_id,
        export_date,
        payload ->> 'name' as tenant_name,
        payload ->> 'domain' as domain,
        payload ->> 'industry' as industry,
        payload ->> 'company_size' as company_size,
        payload ->> 'plan' as plan,
        (payload ->> 'seats')::int as licensed_seats,
        (payload ->> 'monthly_event_limit')::bigint as monthly_event_limit,
        (payload ->> 'mrr')::numeric(12, 2) as mrr,
        payload ->> 'currency' as currency,
        payload ->> 'status' as status,
        (payload ->> 'created_at')::date as created_on,
        (payload ->> 'churned_at')::date as churned_on,
        batch_id as _batch_id
    from latest
    where copy_rank = 1

)

select * from renamed
