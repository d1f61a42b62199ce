"""ML scoring on a real warehouse: point-in-time features, training, registry, scoring.

One small generated data set (64 days) is loaded and built once for the module; the leak
test builds the warehouse a first time with the landing files through a day T only, so
its snapshot of T can be compared with the one built from everything.

Over 300 lines on purpose: the tests share one module-scoped warehouse that is loaded,
built and trained once (minutes); split, each part would build its own.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from generators import generate
from pulse.ml import features as F
from pulse.ml import registry
from pulse.ml.registry import Ranges
from pulse.ml.score import predict, score_day
from pulse.ml.train import DEFAULT_SEED, train
from tests import leakage, reference
from tests.conftest import NO_TESTS, NO_UNIT_TESTS, marks, pulse_cli, query, reset_schemas, scalar

START = date(2026, 1, 1)
DAYS = 64
LAST = START + timedelta(days=DAYS - 1)
LEAK_DAY = date(2026, 1, 20)
RANGES = Ranges(date(2026, 1, 8), date(2026, 1, 24), date(2026, 1, 26), date(2026, 2, 3),
                data_through=LAST)
SCORE_DAY = date(2026, 2, 20)
# fewer boosting rounds than production: the same code, a quicker test
PARAMS = {"max_iter": 40}
# 65 users validate: the interval of the model's lead over recency is wide (about
# -0.06..+0.17 here), so the tests that need a promoted model accept a lower bound down to
# -0.2; the gate's tests below use the default (0) and a crippled model
GATE = -0.2
# the ML models and everything upstream: a build that does not wait on unrelated marts
ML_SELECT = ("--select", "+marts.ml", "--indirect-selection", "cautious")


def _build(env: dict[str, str], through: date | None = None) -> None:
    pulse_cli("load", *(["--through", through.isoformat()] if through else []), env=env)
    pulse_cli("dbt", "build", "--quiet", *ML_SELECT, *NO_TESTS, env=env)


@pytest.fixture(scope="module")
@marks("dbt_build")
def ml_warehouse(warehouse_db, tmp_path_factory):
    """Data through LEAK_DAY built and snapshotted, then everything built."""
    base = tmp_path_factory.mktemp("ml")
    landing = base / "landing"
    # no dirty lines: late arrivals would (rightly) change a day's features after T and
    # blur the leak comparison
    generate(landing, seed=5, tenants=4, users=240, days=DAYS, start=START, dirty=0.0)
    env = {"PULSE_LANDING_DIR": str(landing), "PULSE_DATA_DIR": str(base / "data")}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        reset_schemas()
        _build(env, through=LEAK_DAY)
        truncated = F.snapshots([LEAK_DAY])
        truncated_planted = _planted_leak(truncated)
        _build(env)
        yield {"landing": landing, "env": env, "truncated": truncated,
               "truncated_planted": truncated_planted}


@pytest.fixture(scope="module")
def trained(ml_warehouse) -> dict:
    result = train(ranges=RANGES, params=PARAMS, min_lower_bound=GATE)
    assert result["status"] == "promoted", result["reason"]
    return result


def _planted_leak(frame: pd.DataFrame) -> pd.DataFrame:
    """A feature computed from after T: the user's active days in the 7 days after it."""
    future = pd.DataFrame(
        query("""select tenant_id, user_id, snapshot_date, count(a.activity_date)::float
                 from marts.ml_user_feature_snapshots s
                 left join marts.fct_daily_user_activity a using (tenant_id, user_id)
                 where s.snapshot_date = %s and a.is_active
                   and a.activity_date > s.snapshot_date
                   and a.activity_date <= s.snapshot_date + 7
                 group by 1, 2, 3""", (LEAK_DAY,)),
        columns=[*F.KEYS, "active_days_next_7"])
    out = frame.merge(future, on=list(F.KEYS), how="left")
    out["active_days_next_7"] = out["active_days_next_7"].fillna(0.0)
    return out


def test_snapshots_use_only_data_known_at_t(ml_warehouse):
    full = F.snapshots([LEAK_DAY])
    truncated = ml_warehouse["truncated"]
    assert len(full) == len(truncated) > 100
    assert leakage.point_in_time_violations(truncated, full, F.FEATURES) == {}
    # the labels are the future by design: unknown at T, known now
    assert truncated[F.CHURN_LABEL].isna().all()
    assert full[F.CHURN_LABEL].notna().all()


def test_a_planted_leak_is_caught(ml_warehouse):
    full = _planted_leak(F.snapshots([LEAK_DAY]))
    violations = leakage.point_in_time_violations(
        ml_warehouse["truncated_planted"], full, [*F.FEATURES, "active_days_next_7"])
    assert list(violations) == ["active_days_next_7"]
    assert violations["active_days_next_7"] > 10


def test_training_is_reproducible_from_a_fixed_seed(trained):
    first = dict(trained, metrics=dict(trained["metrics"]))
    second = train(ranges=RANGES, params=PARAMS, seed=DEFAULT_SEED, min_lower_bound=GATE)
    for run in (first, second):
        run["metrics"].pop("seconds")
        run["evaluation"] = dict(run["evaluation"], refit=dict(run["evaluation"]["refit"]))
        run["evaluation"]["refit"].pop("seconds")
    assert first == second  # same figures, same artifact bytes, same version
    model = first["metrics"]["model"]
    assert 0.5 < model["roc_auc"] <= 1 and 0 <= model["brier"] <= 1
    assert len(model["calibration"]) == 10
    assert first["metrics"]["rule_based_health_score"]["rows"] == model["rows"]
    row = registry.info(first["model_version"])
    assert row["is_current"] and row["artifact_sha256"] == first["artifact_sha256"]
    assert row["features"] == list(F.FEATURES)
    assert row["validation_start"] == RANGES.validation_start
    assert json.loads(json.dumps(row["metrics"]))["model"]["roc_auc"] == model["roc_auc"]


def test_scoring_writes_every_consenting_user_once(ml_warehouse, trained):
    version = trained["model_version"]
    result = score_day(SCORE_DAY, model_version=version)
    assert result["status"] == "scored" and result["model_version"] == version

    rows = query("""select tenant_id, user_id, churn_probability, ltv_prediction,
                           propensity_scores, risk_band, top_factors
                    from ml.ml_features where scored_at = %s""", (SCORE_DAY,))
    scored = {(t, u) for t, u, *_ in rows}
    assert scored == reference.consenting_users(ml_warehouse["landing"], SCORE_DAY)
    assert result["users_scored"] + result["users_inactive"] == len(rows)
    assert result["users_without_consent"] > 0
    for _t, _u, p, ltv, props, band, factors in rows:
        if band == "inactive":  # test_only_recently_active_users_are_scored
            continue
        assert 0 <= p <= 1 and ltv >= 0
        assert band == ("high" if p > 0.7 else "medium" if p > 0.3 else "low")
        assert "upgrade" not in props  # the tenant's (ml.tenant_scores), not copied to users
        assert all(0 <= v <= 1 for v in props.values())
        assert all(f["feature"] in F.FEATURES and f["contribution"] > 0 for f in factors)
    assert len({b for *_x, b, _f in rows}) >= 2  # the scores separate users


def test_scoring_a_day_twice_leaves_the_same_rows(trained):
    score_day(SCORE_DAY, trained["model_version"])
    before = query("select * from ml.ml_features where scored_at = %s order by 1, 2",
                   (SCORE_DAY,))
    score_day(SCORE_DAY, trained["model_version"])
    assert query("select * from ml.ml_features where scored_at = %s order by 1, 2",
                 (SCORE_DAY,)) == before


def test_reloading_the_artifact_reproduces_the_scores(trained):
    version = trained["model_version"]
    score_day(SCORE_DAY, model_version=version)
    stored = pd.DataFrame(query(
        "select tenant_id, user_id, churn_probability, ltv_prediction::float8, "
        "propensity_scores, top_factors from ml.ml_features where scored_at = %s "
        "order by tenant_id, user_id", (SCORE_DAY,)),
        columns=["tenant_id", "user_id", "p", "ltv", "props", "factors"])
    frame = F.snapshots([SCORE_DAY])
    frame = frame.loc[frame["consent_ml_predictions"]].reset_index(drop=True)
    again = predict(registry.load(version), frame, F.adoption([SCORE_DAY]))
    again = again.sort_values(["tenant_id", "user_id"]).reset_index(drop=True)
    # inactive users have no probability: NULL stored, None predicted, NaN both here
    np.testing.assert_array_equal(stored["p"].to_numpy(dtype=float),
                                  again["churn_probability"].to_numpy(dtype=float))
    np.testing.assert_array_equal(stored["ltv"].to_numpy(), again["ltv_prediction"].to_numpy())
    assert stored["props"].tolist() == again["propensity_scores"].tolist()
    assert stored["factors"].tolist() == again["top_factors"].tolist()


def test_a_changed_artifact_is_refused(trained):
    version = trained["model_version"]
    path = registry.artifact_file(registry.info(version)["artifact_path"])
    with open(path, "rb") as fh:
        original = fh.read()
    try:
        with open(path, "ab") as fh:
            fh.write(b"\0")
        with pytest.raises(registry.RegistryError, match="does not match the sha256"):
            registry.load(version)
    finally:
        with open(path, "wb") as fh:
            fh.write(original)
    registry.load(version)


def test_backfills_use_the_model_current_then(trained):
    early_through = LAST - timedelta(days=2)
    early = train(as_of=early_through, ranges=Ranges(
        RANGES.train_start, RANGES.train_end, RANGES.validation_start,
        early_through - timedelta(days=30), data_through=early_through),
        params=PARAMS, min_lower_bound=GATE)["model_version"]
    late = trained["model_version"]
    assert early != late
    assert score_day(LAST - timedelta(days=1))["model_version"] == early
    assert score_day(LAST)["model_version"] == late
    skipped = score_day(RANGES.validation_end)  # before any model's data
    assert skipped["status"] == "skipped" and "--model-version" in skipped["reason"]
    assert scalar("select count(*) from ml.ml_features where scored_at = %s",
                  (RANGES.validation_end,)) == 0


def test_prediction_accuracy_mart_counts_outcomes(ml_warehouse, trained):
    score_day(SCORE_DAY, trained["model_version"])
    known_day = LAST - timedelta(days=30)  # its 30 days are all loaded
    score_day(known_day, trained["model_version"])
    pulse_cli("dbt", "build", "--quiet", "--select", "ml_prediction_accuracy ml_tenant_ltv",
              *NO_UNIT_TESTS, env=ml_warehouse["env"])
    rows = query("select risk_band, predicted_users, churned_users, precision, outcome_known "
                 "from marts.ml_prediction_accuracy where scored_at = %s", (SCORE_DAY,))
    # the scored population: users with a probability, not the inactive ones
    assert sum(r[1] for r in rows) == scalar(
        "select count(*) from ml.ml_features where scored_at = %s"
        " and risk_band <> 'inactive'", (SCORE_DAY,))
    # 2026-02-20 + 30 days is not loaded yet: outcomes unknown, not zero
    assert all(r[4] is False and r[2] is None and r[3] is None for r in rows)
    assert scalar("select sum(scored_users) from marts.ml_tenant_ltv where scored_at = %s",
                  (SCORE_DAY,)) == sum(r[1] for r in rows)

    # outcomes from the landing files: not active in (day, day + 30]
    active = reference.active_days(reference.counted(reference.events(ml_warehouse["landing"])))
    expected: dict[str, list[int]] = {}
    for tenant, user, band in query("select tenant_id, user_id, risk_band from ml.ml_features "
                                    "where scored_at = %s and risk_band <> 'inactive'",
                                    (known_day,)):
        churned = not any(known_day < d <= known_day + timedelta(days=30)
                          for d in active.get((tenant, user), ()))
        counts = expected.setdefault(band, [0, 0])
        counts[0] += 1
        counts[1] += churned
    got = query("select risk_band, predicted_users, churned_users, precision, outcome_known "
                "from marts.ml_prediction_accuracy where scored_at = %s", (known_day,))
    assert {b: [n, c] for b, n, c, _p, _k in got} == expected
    for _b, n, c, precision, known in got:
        assert known and float(precision) == pytest.approx(c / n, abs=1e-4)


def test_cli_report_and_score(ml_warehouse, trained):
    out = pulse_cli("ml", "report").stdout
    assert "rule_calibrated" in out and "recency" in out and "ROC AUC" in out
    out = pulse_cli("ml", "score", "--day", SCORE_DAY.isoformat(),
                    "--model-version", trained["model_version"]).stdout
    assert json.loads(out)["status"] == "scored"
    assert os.environ.get("PULSE_DATA_DIR") == ml_warehouse["env"]["PULSE_DATA_DIR"]


def test_the_training_dag_trains_on_its_schedule_or_when_no_model_exists(trained):
    from pulse.ml import jobs

    assert registry.any_model()
    assert jobs.wanted("scheduled") and jobs.wanted("manual")
    # published marts trigger it every night: with a model, nothing to do
    assert jobs.wanted("asset_triggered") is None


def test_the_training_dags_params_reach_the_registered_model(ml_warehouse):
    """What pulse_train's task runs with a run's params (`--conf`). The DAG's run in
    Airflow is tests/test_demo.py's, and that its params are the ones read here,
    tests/test_dags.py's."""
    from pulse.ml import jobs

    conf = {"as_of": LAST.isoformat(), "seed": DEFAULT_SEED, **PARAMS,
            **{k: getattr(RANGES, k).isoformat() for k in jobs.RANGE_PARAMS}}
    before = scalar("select count(*) from ml.model_registry")
    result = jobs.train_from_params(conf)
    row = query("select model_version, data_through, train_start, artifact_sha256, params"
                " from ml.model_registry where model_version = %s",
                (result["model_version"],))[0]
    assert row[1] == LAST and row[2] == RANGES.train_start
    assert row[4]["max_iter"] == PARAMS["max_iter"]  # the run's params reach the model
    assert scalar("select count(*) from ml.model_registry") == before + 1
    registry.load(row[0])  # the artifact is there and matches its hash
    with pytest.raises(ValueError, match="give all of"):
        jobs.train_from_params({"train_start": RANGES.train_start.isoformat()})


# -- the promotion gate, the baselines and the population (docs/evaluation.md) --------------

# a crippled model: the tenant's plan and seats say nothing about which of its users stop
CRIPPLED = ("tenant_plan_rank", "tenant_licensed_seats")


def test_evaluation_compares_the_model_with_both_baselines_on_the_same_rows(trained):
    ev = trained["evaluation"]
    val = ev["validation"]
    assert set(val["scorers"]) == {"model", "rule_calibrated", "recency"}
    assert val["rows"] == trained["metrics"]["model"]["rows"]
    # bootstrap units are users: fewer than the rows (several days per user)
    assert 0 < val["groups"] < val["rows"]
    for s in val["scorers"].values():
        lo, hi = s["roc_auc_ci"]
        assert lo <= s["roc_auc"] <= hi
    # the rule calibrated by a monotone logistic keeps the rule's ranking
    assert val["scorers"]["rule_calibrated"]["roc_auc"] == pytest.approx(
        trained["metrics"]["rule_based_health_score"]["roc_auc"], abs=1e-3)
    assert ev["slice_active_last_7_days"]["rows"] < val["rows"]
    assert set(ev["lead_time"]) == set(val["scorers"])
    assert len(ev["backtest"]["origins"]) >= 3
    row = registry.info(trained["model_version"])
    assert row["status"] == trained["status"] and row["evaluation"]["gate"] == ev["gate"]
    assert not os.path.isabs(row["artifact_path"])
    assert set(row["environment"]) == {"scikit-learn", "numpy", "pandas", "git_revision"}
    assert len(row["training_fingerprint"]) == 64


def test_the_gate_rejects_a_worse_model_and_the_current_stays(trained):
    current = scalar("select model_version from ml.model_registry where is_current")
    worse = train(ranges=RANGES, params=PARAMS, features=CRIPPLED)
    assert worse["status"] == "rejected" and worse["reason"].startswith("rejected")
    assert worse["model_version"] != current
    assert registry.info(worse["model_version"])["status"] == "rejected"
    assert scalar("select model_version from ml.model_registry where is_current") == current
    assert registry.current_on(LAST) == current
    # an impossible threshold rejects even the full model; the current stays too
    strict = train(ranges=RANGES, params=PARAMS, min_lower_bound=0.99)
    assert strict["status"] == "rejected"
    assert scalar("select model_version from ml.model_registry where is_current") == current


@pytest.fixture
def empty_registry(trained):
    """The registry and the scores as if no model had ever been trained, put back after."""
    query("create table ml.saved_registry as select * from ml.model_registry; "
          "create table ml.saved_features as select * from ml.ml_features; "
          "delete from ml.ml_features; delete from ml.model_registry; select 1")
    try:
        yield
    finally:
        query("delete from ml.ml_features; delete from ml.model_registry; "
              "insert into ml.model_registry select * from ml.saved_registry; "
              "insert into ml.ml_features select * from ml.saved_features; "
              "drop table ml.saved_registry, ml.saved_features; select 1")


def test_the_calibrated_rule_is_served_while_no_model_passed(empty_registry):
    worse = train(ranges=RANGES, params=PARAMS, features=CRIPPLED)
    assert worse["status"] == "rejected"
    assert scalar("select model_version from ml.model_registry where is_current") == \
        registry.RULE_BASELINE
    # the rule baseline knows the data through LAST: it serves that night on (a night
    # before it is left to the models of then)
    result = score_day(LAST)
    assert result["model_version"] == registry.RULE_BASELINE
    rows = query("select model_version, churn_probability, top_factors from ml.ml_features "
                 "where scored_at = %s and risk_band <> 'inactive'", (LAST,))
    assert rows and all(v == registry.RULE_BASELINE and f == [] for v, _p, f in rows)
    # the calibrated rule, not the raw one: probabilities spread, not (100 - health) / 100
    frame = F.snapshots([LAST])
    assert len({round(p, 6) for _v, p, _f in rows}) > 5
    model = registry.load(registry.RULE_BASELINE)
    scored = frame.loc[frame["is_active_customer"] & frame["consent_ml_predictions"]]
    assert np.allclose(sorted(np.round(model.churn_probability(scored), 6)),
                       sorted(p for _v, p, _f in rows))


def test_only_recently_active_users_are_scored(ml_warehouse, trained):
    score_day(SCORE_DAY, trained["model_version"])
    frame = F.snapshots([SCORE_DAY])
    consenting = frame.loc[frame["consent_ml_predictions"]]
    active = {(t, u) for t, u, a in zip(consenting["tenant_id"], consenting["user_id"],
                                        consenting["is_active_customer"], strict=True) if a}
    rows = query("select tenant_id, user_id, churn_probability, risk_band, ltv_prediction, "
                 "propensity_scores, top_factors from ml.ml_features where scored_at = %s",
                 (SCORE_DAY,))
    inactive = [r for r in rows if (r[0], r[1]) not in active]
    assert inactive, "the test data should hold consenting users inactive for 30 days"
    for _t, _u, p, band, ltv, props, factors in inactive:
        assert band == "inactive" and p is None and ltv == 0 and props == {} and factors == []
    for _t, _u, p, band, _l, _props, factors in (r for r in rows if (r[0], r[1]) in active):
        assert band != "inactive" and p is not None
        if band == "low":
            assert factors == []
    pulse_cli("dbt", "build", "--quiet", "--select", "ml_prediction_accuracy",
              *NO_UNIT_TESTS, env=ml_warehouse["env"])
    assert scalar("select sum(predicted_users) from marts.ml_prediction_accuracy "
                  "where scored_at = %s", (SCORE_DAY,)) == len(active)


def test_report_json_per_model_kind(ml_warehouse, trained):
    doc = json.loads(pulse_cli("ml", "report", "--json").stdout)
    # one entry per model kind (pulse_train, if a test ran it, adds the tenant model's)
    kinds = [m["model_kind"] for m in doc["models"]]
    assert len(kinds) == len(set(kinds)) and "user_churn" in kinds
    (m,) = [m for m in doc["models"] if m["model_kind"] == "user_churn"]
    assert {"model_kind", "model_version", "status", "reason", "serving", "validation",
            "slice_active_last_7_days", "lead_time", "backtest", "refit", "environment",
            "training_fingerprint", "artifact_path", "gate"} <= set(m)
    assert m["model_kind"] == "user_churn"
    assert set(m["validation"]["scorers"]) == {"model", "rule_calibrated", "recency"}
    assert {"roc_auc", "roc_auc_ci", "pr_auc", "pr_auc_ci"} <= set(
        m["validation"]["scorers"]["recency"])
    assert m["validation"]["auc_difference"]["vs"] in ("rule_calibrated", "recency")
    text = pulse_cli("ml", "report").stdout
    assert "rule_calibrated" in text and "backtest" in text and "lead time" in text
    bad = pulse_cli("ml", "report", "--model-version", "nope", check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "pulse ml report" in bad.stderr
