{#-
  Every scored tenant and scoring day, for analysts (who may not read the ml schema,
  docs/roles.md): the probability that the tenant cancels or contracts within the
  horizon, its band, the model that served it ('rule-baseline' while no tenant model
  passed the gate), the upgrade propensity (null when it did not beat its base rate),
  MRR and expected 12-month revenue. A view: it shows the night's scores as soon as
  pulse.ml writes them. Definition: doc block `ml_tenant_scoring`.
-#}
{{ config(materialized='view') }}

with

scores as (

    select * from {{ ref('stg_pulse_ml__tenant_scores') }}

)

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
from scores
