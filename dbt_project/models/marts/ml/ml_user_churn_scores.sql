{#-
  Every scored user and scoring day, for analysts (who may not read the ml schema,
  docs/roles.md): churn probability, risk band, LTV and the factors behind the churn
  score as one readable line ("feature (+0.12), ..."), largest first. A view, so it shows
  the night's scores as soon as pulse.ml writes them. Empty until the first night is
  scored.
-#}
{{ config(materialized='view') }}

with

scores as (

    select * from {{ ref('stg_pulse_ml__ml_features') }}

)

-- The factors of each row from its own JSON array (a lateral subquery, not a grouped
-- self-join): a tenant or date filter on this view then reaches ml.ml_features' index,
-- and no plan rescans every score once per row (docs/dashboards.md, card timings).
select
    s.tenant_id,
    s.user_id,
    s.scored_at,
    s.model_version,
    s.churn_probability,
    s.risk_band,
    s.ltv_prediction,
    f.top_factor,
    f.top_factors
from scores as s
left join lateral (
    select
        string_agg(
            (e.factor ->> 'feature')
            || ' (' || to_char((e.factor ->> 'contribution')::numeric, 'SFM0.00') || ')',
            ', ' order by e.position
        ) as top_factors,
        min(e.factor ->> 'feature') filter (where e.position = 1) as top_factor
    from jsonb_array_elements(s.top_factors) with ordinality as e (factor, position)
) as f on true
