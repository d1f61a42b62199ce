{#-
  How the churn scores turned out (docs/scoring.md, "churn prediction accuracy"): per scoring
  day, model version and risk band, the users scored, how many were not active in the 30
  days after the scoring day, and the precision (churned / predicted). The outcome columns
  are null until those 30 days are all loaded. Reads ml.ml_features, written by pulse.ml;
  empty until the first night is scored.
-#}
{%- set horizon = var('churn_horizon_days') -%}

with

scores as (

    select * from {{ ref('stg_pulse_ml__ml_features') }}
    -- the population the model was trained on: users written as 'inactive' (not
    -- active in the 30 days before scoring) got no prediction to be right or wrong about
    where risk_band <> 'inactive'

),

-- not materialized: read twice below, and materialized the anti-join below would scan
-- the copy once per score, twice (7.5 s on the demo's 1,425 scores; through the
-- table's (tenant_id, user_id, activity_date) index instead: 26 ms)
user_days as not materialized (

    select * from {{ ref('fct_daily_user_activity') }}

),

last_day as (

    select max(activity_date) as last_day from user_days

),

outcomes as (

    select
        scores.scored_at,
        scores.model_version,
        scores.risk_band,
        scores.churn_probability,
        scores.scored_at + {{ horizon }} <= last_day.last_day as outcome_known,
        not exists (
            select 1
            from user_days
            where user_days.tenant_id = scores.tenant_id
                and user_days.user_id = scores.user_id
                and user_days.is_active
                and user_days.activity_date > scores.scored_at
                and user_days.activity_date <= scores.scored_at + {{ horizon }}
        ) as churned
    from scores
    cross join last_day

)

select
    scored_at,
    model_version,
    risk_band,
    count(*)::int as predicted_users,
    round(avg(churn_probability)::numeric, 4) as avg_churn_probability,
    bool_and(outcome_known) as outcome_known,
    case when bool_and(outcome_known) then count(*) filter (where churned)::int end
        as churned_users,
    case when bool_and(outcome_known)
        then round(count(*) filter (where churned)::numeric / count(*), 4) end as precision
from outcomes
group by scored_at, model_version, risk_band
