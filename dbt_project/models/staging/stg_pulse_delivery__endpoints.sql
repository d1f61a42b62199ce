{#-
  endpoints of the pulse_delivery source, as the marts read it: the columns they use, nothing
  renamed. A view, so the marts that are views themselves see the rows as they are now.
-#}

with

source as (

    select * from {{ source('pulse_delivery', 'endpoints') }}

),

renamed as (

    select
        endpoint_id,
        tenant_id,
        enabled,
        disabled_reason,
        disabled_detail,
        disabled_at
    from source

)

select * from renamed
