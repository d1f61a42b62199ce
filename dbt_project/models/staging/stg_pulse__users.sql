{#-
  The users export typed: one row per user and export day, the consent flags as columns
  (docs/privacy.md "Consent"). When an export day was landed more than once (a correction
  under a new file name), the last loaded copy wins.
-#}

with

source as (

    select * from {{ source('pulse_raw', 'users') }}

),

latest as (

    select
        *,
        {{ last_loaded_copy_rank(['tenant_id', 'user_id', 'export_date']) }} as copy_rank
    from source

),

renamed as (

    select
        tenant_id,
        user_id,
        export_date,
        payload ->> 'role' as role,
        (payload ->> 'created_at')::timestamptz as created_at,
        (payload ->> 'consent_updated_at')::timestamptz as consent_updated_at,
        (payload #>> '{consent,analytics_tracking}')::boolean as consent_analytics_tracking,
        (payload #>> '{consent,behavioral_analysis}')::boolean as consent_behavioral_analysis,
        (payload #>> '{consent,marketing_attribution}')::boolean
            as consent_marketing_attribution,
        (payload #>> '{consent,ml_predictions}')::boolean as consent_ml_predictions,
        batch_id as _batch_id,
        line_number as _line_number
    from latest
    where copy_rank = 1

)

select * from renamed
