-- The ML-predictions consent periods that the stored rows of
-- marts.ml_user_feature_snapshots agree with. That model is incremental by snapshot day,
-- yet a consent choice (a late event, the users export) must reach the rows already
-- built: its post-hook (dbt_project/macros/privacy.sql, ml_consent_post_hook) updates the
-- rows of the users whose current periods differ from these, then stores the current
-- ones here, in the same transaction as the build. Comparing every stored row each
-- night instead cost time that grew with history (docs/incremental.md).
--
-- Holds user ids (like the snapshots): erasure finds it through the catalog.
create table if not exists ml.consent_periods_applied (
    tenant_id text not null,
    user_id text not null,
    valid_from date,
    valid_to date,
    consent_ml_predictions boolean
);

create index if not exists consent_periods_applied_user
    on ml.consent_periods_applied (tenant_id, user_id);
