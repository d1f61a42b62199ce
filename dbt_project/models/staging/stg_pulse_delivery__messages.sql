{#-
  messages of the pulse_delivery source, as the marts read it: the columns they use, nothing
  renamed. A view, so the marts that are views themselves see the rows as they are now.
-#}

with

source as (

    select * from {{ source('pulse_delivery', 'messages') }}

),

renamed as (

    select
        message_id,
        tenant_id,
        event_type,
        user_id,
        announced_on
    from source

)

select * from renamed
