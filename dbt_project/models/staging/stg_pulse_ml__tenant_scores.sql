{#-
  tenant_scores of the pulse_ml source, as the marts read them: every column, nothing
  renamed. A view, so the marts that are views themselves see the rows as they are now.
-#}

with

source as (

    select * from {{ source('pulse_ml', 'tenant_scores') }}

),

renamed as (

    select
        tenant_id,
        scored_at,
        model_version,
        churn_probability,
        risk_band,
        horizon_days,
        upgrade_propensity,
        mrr,
        ltv_prediction
    from source

)

select * from renamed
