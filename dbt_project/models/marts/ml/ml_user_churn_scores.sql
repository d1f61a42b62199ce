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

),

factors as (

    select
        s.tenant_id,
        s.user_id,
        s.scored_at,
        string_agg(
            (f.factor ->> 'feature')
            || ' (' || to_char((f.factor ->> 'contribution')::numeric, 'SFM0.00') || ')',
            ', ' order by f.position
        ) as top_factors,
        min(f.factor ->> 'feature') filter (where f.position = 1) as top_factor
    from scores as s
    cross join lateral jsonb_array_elements(s.top_factors)
        with ordinality as f (factor, position)
    group by s.tenant_id, s.user_id, s.scored_at

)

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
left join factors as f
    on s.tenant_id = f.tenant_id
    and s.user_id = f.user_id
    and s.scored_at = f.scored_at
