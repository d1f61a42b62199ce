"""Tenant churn on a real warehouse: point-in-time tenant features, the gate, scoring.

One generated data set (100 days, 16 tenants) is built twice with a 20-day tenant horizon
(a dbt var, so 100 days hold a time-ordered validation): first with the landing files
through LEAK_DAY only, then with everything and a cancellation planted in the accounts
export after LEAK_DAY. The features of days up to LEAK_DAY must not change; the label of
LEAK_DAY must see the cancellation.
"""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from generators import generate
from pulse.ml import propensity
from pulse.ml import tenant as T
from pulse.ml.tenant_score import score_day
from tests.conftest import NO_TESTS, marks, pulse_cli, query, reset_schemas, scalar

START = date(2026, 1, 1)
DAYS = 100
LAST = START + timedelta(days=DAYS - 1)
LEAK_DAY = date(2026, 2, 20)
PLANT_DAY = LEAK_DAY + timedelta(days=5)
HORIZON = 20
BUILD = ("dbt", "build", "--quiet", "--select", "+ml_tenant_feature_snapshots",
         "+ml_tenant_churn_scores", "--indirect-selection", "cautious",
         "--vars", json.dumps({"tenant_churn_horizon_days": HORIZON}), *NO_TESTS)


def _plant(landing, tenant_id: str, since: date, **values) -> None:
    """From `since` on, the accounts export says `values` for the tenant."""
    day = since
    while day <= LAST:
        path = landing / "accounts" / f"dt={day}" / "accounts.ndjson.gz"
        with gzip.open(path, "rt") as fh:
            rows = [json.loads(line) for line in fh]
        for r in rows:
            if r["tenant_id"] == tenant_id:
                r.update({k: v(r) if callable(v) else v for k, v in values.items()})
        with gzip.open(path, "wt") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
        day += timedelta(days=1)


@pytest.fixture(scope="module")
@marks("dbt_build")
def tenant_warehouse(warehouse_db, tmp_path_factory):
    base = tmp_path_factory.mktemp("tenant")
    landing = base / "landing"
    generate(landing, seed=11, tenants=16, users=240, days=DAYS, start=START, dirty=0.0)
    env = {"PULSE_LANDING_DIR": str(landing), "PULSE_DATA_DIR": str(base / "data")}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        reset_schemas()
        pulse_cli("load", "--through", LEAK_DAY.isoformat(), env=env)
        pulse_cli(*BUILD, env=env)
        truncated = T.snapshots(through=LEAK_DAY)
        paying = sorted(truncated.loc[truncated["snapshot_date"].eq(LEAK_DAY)
                                      & truncated["is_paying_customer"], "tenant_id"])
        victim = str(paying[0])
        # the future: one cancellation after LEAK_DAY, and (so that the gate test's
        # validation days hold churners on a data set this small) two contractions
        # late in the data
        _plant(landing, victim, PLANT_DAY, status="churned", mrr=0.0,
               churned_at=str(PLANT_DAY))
        for other in paying[1:3]:
            _plant(landing, other, LAST - timedelta(days=25),
                   mrr=lambda r: round(r["mrr"] / 2, 2))
        pulse_cli("load", env=env)
        pulse_cli(*BUILD, env=env)
        yield {"truncated": truncated, "victim": victim, "env": env}


def test_a_planted_future_cancellation_changes_no_earlier_feature(tenant_warehouse):
    before = tenant_warehouse["truncated"]
    after = T.snapshots(through=LEAK_DAY)
    keys = ["tenant_id", "snapshot_date"]
    columns = [*keys, "is_paying_customer", "plan", "status", *T.FEATURES]
    pd.testing.assert_frame_equal(
        before[columns].sort_values(keys).reset_index(drop=True),
        after[columns].sort_values(keys).reset_index(drop=True), check_dtype=False)
    # the plant is in the warehouse, and the label of LEAK_DAY (horizon covers it) sees it
    victim = tenant_warehouse["victim"]
    assert scalar("select count(*) from marts.dim_tenants where tenant_id = %s "
                  "and status = 'churned' and valid_from = %s", (victim, PLANT_DAY)) == 1
    label = after.loc[after["tenant_id"].eq(victim) & after["snapshot_date"].eq(LEAK_DAY),
                      T.LABEL]
    assert label.tolist() == [True]
    # before the export covered LEAK_DAY + horizon, the label was unknown
    assert before.loc[before["snapshot_date"].eq(LEAK_DAY), T.LABEL].isna().all()


def test_the_gate_keeps_the_current_model_when_a_later_one_is_rejected(tenant_warehouse):
    first = T.train(as_of=LAST - timedelta(days=1), min_lower_bound=-2.0)
    ev = first["metrics"]["evaluation"]
    assert ev is not None and ev["groups"] >= 2
    assert set(ev["scorers"]) == {"model", "rule_baseline", "recency_only"}
    # promoted exactly when the model's ROC AUC beats the best baseline's
    assert (first["status"] == "promoted") == (ev["auc_difference"]["roc_auc"] > 0)
    served_before = T.serving(LAST)[0]
    assert served_before == (first["model_version"] if first["status"] == "promoted"
                             else T.RULE_BASELINE)

    # no interval's lower bound reaches +2: this one is rejected, whatever its figures
    second = T.train(as_of=LAST, min_lower_bound=2.0)
    assert second["status"] == "rejected"
    assert scalar("select is_current from ml.tenant_model_registry where model_version = %s",
                  (second["model_version"],)) is False
    assert T.serving(LAST)[0] == served_before


def test_scoring_writes_every_paying_tenant_once_and_twice_the_same(tenant_warehouse):
    T.train(as_of=LAST)
    first = score_day(LAST)
    paying = scalar("select count(*) from marts.ml_tenant_feature_snapshots "
                    "where snapshot_date = %s and is_paying_customer", (LAST,))
    assert first["tenants_scored"] == paying > 0
    rows = query("select * from marts.ml_tenant_churn_scores where scored_at = %s "
                 "order by tenant_id", (LAST,))
    score_day(LAST)
    assert query("select * from marts.ml_tenant_churn_scores where scored_at = %s "
                 "order by tenant_id", (LAST,)) == rows
    assert {r[2] for r in rows} == {T.serving(LAST)[0]}
    # LTV: 12 months of MRR discounted by the probability of staying, never above 12 x MRR
    assert all(0 <= float(r[8]) <= 12 * float(r[7]) + 0.01 for r in rows)


def test_ltv_backtest_compares_with_the_revenue_realised(tenant_warehouse):
    result = T.train(as_of=LAST, register=False)
    bt = result["metrics"]["ltv_backtest"]
    realised = scalar(
        "select sum(revenue_next_90d) from marts.ml_tenant_feature_snapshots "
        "where is_paying_customer and revenue_next_90d is not null")
    assert bt["rows"] > 0
    assert bt["realised_total"] == pytest.approx(float(realised), abs=0.05)
    assert bt["mrr_stays_flat"]["ratio_predicted_to_realised"] > 0


def test_ltv_is_twelve_months_of_mrr_discounted_by_churn():
    mrr = np.array([100.0, 100.0, 100.0])
    value = T.ltv(mrr, np.array([0.0, 0.5, 1.0]), horizon_days=60)
    assert value[0] == pytest.approx(1200.0)
    assert value[2] == 0.0
    assert 0 < value[1] < value[0]


def test_a_propensity_is_written_only_when_it_beats_the_base_rate():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(20), 30)
    x = rng.normal(size=(len(groups), 2))
    fit = lambda a, b: LogisticRegression().fit(a, b)  # noqa: E731
    noise = (rng.random(len(groups)) < 0.3).astype(int)
    signal = (x[:, 0] + 0.3 * rng.normal(size=len(groups)) > 0.5).astype(int)
    assert propensity.check(x, noise, groups, fit)["written"] is False
    good = propensity.check(x, signal, groups, fit)
    assert good["written"] is True and good["roc_auc"] > 0.8
    assert good["brier"] < good["base_rate_brier"]
    assert len(good["reliability"]) == 10
