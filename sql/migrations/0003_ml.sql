-- Nightly ML scoring (issue 5): the scores written back for every consenting user, and the
-- registry of trained models. Written by pulse.ml (Python), read by dbt as sources
-- (marts.ml_prediction_accuracy, marts.ml_tenant_ltv) and by the webhooks (issue 6).

create schema if not exists ml;

-- The registry: one row per trained model. A version names an artifact whose bytes are
-- hashed here, so a reload can prove it is the model that produced a score.
create table ml.model_registry (
    model_version      text primary key,
    trained_at         timestamptz not null default now(),
    -- the last loaded day the model knew: no label, feature or validation figure comes
    -- from after it; the model is "current" for scoring days on or after it
    data_through       date        not null,
    train_start        date        not null,
    train_end          date        not null,
    validation_start   date        not null,
    validation_end     date        not null,
    params             jsonb       not null,
    features           jsonb       not null,   -- ordered feature list the artifact expects
    metrics            jsonb       not null,   -- validation figures, model vs rule-based score
    artifact_path      text        not null,
    artifact_sha256    text        not null,
    -- the newest trained model; scoring without a named version on the latest day uses it
    is_current         boolean     not null default false,
    check (train_start <= train_end and train_end < validation_start
           and validation_start <= validation_end and validation_end <= data_through)
);
create unique index model_registry_one_current on ml.model_registry (is_current)
    where is_current;

-- The write-back contract (read by the webhooks of issue 6): one row per user and scoring
-- day. Scoring a day again replaces that day's rows in one transaction.
create table ml.ml_features (
    tenant_id          text             not null,
    user_id            text             not null,
    scored_at          date             not null,
    model_version      text             not null references ml.model_registry (model_version),
    churn_probability  double precision not null check (churn_probability between 0 and 1),
    ltv_prediction     numeric          not null check (ltv_prediction >= 0),
    propensity_scores  jsonb            not null,   -- action -> probability in [0, 1]
    risk_band          text             not null check (risk_band in ('low', 'medium', 'high')),
    top_factors        jsonb            not null,   -- [{feature, contribution}], largest first
    primary key (tenant_id, user_id, scored_at)
);
create index ml_features_scored_at on ml.ml_features (scored_at);
