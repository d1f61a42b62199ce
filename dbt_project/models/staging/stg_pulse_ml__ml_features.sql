{#-
  ml_features of the pulse_ml source, as the marts read it: the columns they use, nothing
  renamed. A view, so the marts that are views themselves see the rows as they are now.
-#}

with

source as (

    select * from {{ source('pulse_ml', 'ml_features') }}

),

renamed as (

    select
        tenant_id,
        user_id,
        scored_at,
        model_version,
        churn_probability,
        ltv_prediction,
        propensity_scores,
        risk_band,
        top_factors
    from source

)

select * from renamed
