{#-
  Expected revenue over the next 12 months per tenant and scoring day: the sum of its
  scored users' ltv_prediction (each user carries an equal share of the tenant's MRR,
  kept for as long as the user is expected to stay; doc block `ml_scoring`). Users who
  gave no ML consent are not scored and carry no share; users not active in the 30 days
  before (risk band 'inactive') carry none either and are not counted as scored.
-#}

with

scores as (

    select * from {{ ref('stg_pulse_ml__ml_features') }}

)

select
    tenant_id,
    scored_at,
    model_version,
    count(*) filter (where risk_band <> 'inactive')::int as scored_users,
    round(avg(churn_probability)::numeric, 4) as avg_churn_probability,
    count(*) filter (where risk_band = 'high')::int as high_risk_users,
    round(sum(ltv_prediction), 2) as ltv_prediction_12m
from scores
group by tenant_id, scored_at, model_version
