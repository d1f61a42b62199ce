-- Tenant churn, upgrade propensity and LTV (docs/scoring.md "Tenant churn"): the tenant
-- models' registry and the nightly tenant scores. Written by pulse.ml.tenant, read by
-- dbt as sources (marts.ml_tenant_churn_scores).

create schema if not exists ml;

-- One row per tenant training. A model that did not beat the calibrated rule score is
-- kept (status 'rejected') with its figures, and is never current; scoring then serves
-- the calibrated rule score of the newest training as model_version 'rule-baseline'.
create table if not exists ml.tenant_model_registry (
    model_version      text primary key,
    trained_at         timestamptz not null default now(),
    data_through       date        not null,
    status             text        not null check (status in ('promoted', 'rejected')),
    reason             text        not null,
    ranges             jsonb       not null,
    params             jsonb       not null,
    features           jsonb       not null,
    metrics            jsonb       not null,
    artifact_path      text        not null,
    artifact_sha256    text        not null,
    is_current         boolean     not null default false,
    check (not is_current or status = 'promoted')
);
create unique index if not exists tenant_model_registry_one_current
    on ml.tenant_model_registry (is_current) where is_current;

-- One row per paying tenant and scoring day; scoring a day again replaces the day.
create table if not exists ml.tenant_scores (
    tenant_id           text             not null,
    scored_at           date             not null,
    -- a tenant_model_registry version, or 'rule-baseline' (the calibrated rule score)
    model_version       text             not null,
    churn_probability   double precision not null check (churn_probability between 0 and 1),
    risk_band           text             not null check (risk_band in ('low', 'medium', 'high')),
    horizon_days        integer          not null,
    -- null when the upgrade propensity did not beat its base rate in cross-validation
    upgrade_propensity  double precision check (upgrade_propensity between 0 and 1),
    mrr                 numeric          not null,
    ltv_prediction      numeric          not null check (ltv_prediction >= 0),
    primary key (tenant_id, scored_at)
);
create index if not exists tenant_scores_scored_at on ml.tenant_scores (scored_at);
