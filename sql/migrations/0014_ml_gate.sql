-- The promotion gate and honest evaluation (docs/scoring.md, docs/evaluation.md).
--
-- Registry: every trained model is registered, promoted or rejected, with the reason;
-- only promoted models become current. 'rule-baseline' (status baseline) is the rule
-- score calibrated on the training range, served while no model has ever been promoted.
-- The evaluation (model vs baselines with intervals, the recently-active slice, lead
-- time, rolling-origin backtest) and the provenance (library versions, git revision, a
-- fingerprint of the training rows) are kept beside the metrics.
alter table ml.model_registry
    add column model_kind text not null default 'user_churn',
    add column status text not null default 'promoted'
        check (status in ('promoted', 'rejected', 'baseline')),
    add column status_reason text,
    add column evaluation jsonb,
    add column environment jsonb,
    add column training_fingerprint text;

-- Scores: only users active in the 30 days before the scoring day are the population the
-- model was trained on; other consenting users are written as risk band 'inactive',
-- without a probability (not as 'low').
alter table ml.ml_features
    alter column churn_probability drop not null,
    drop constraint ml_features_risk_band_check,
    add constraint ml_features_risk_band_check
        check (risk_band in ('low', 'medium', 'high', 'inactive')),
    add constraint ml_features_inactive_has_no_probability
        check ((risk_band = 'inactive') = (churn_probability is null));

-- One current model per kind (the user model and, beside it, a tenant model), not one in all.
drop index ml.model_registry_one_current;
create unique index model_registry_one_current on ml.model_registry (model_kind)
    where is_current;
