{#-
  attempts of the pulse_delivery source, as the marts read it: the columns they use, nothing
  renamed. A view, so the marts that are views themselves see the rows as they are now.
-#}

with

source as (

    select * from {{ source('pulse_delivery', 'attempts') }}

),

renamed as (

    select
        attempt_id,
        batch_id,
        message_id,
        endpoint_id,
        attempt_number,
        status,
        response_code,
        duration_ms,
        attempted_at
    from source

)

select * from renamed
