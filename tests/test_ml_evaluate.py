"""pulse.ml.evaluate: grouped bootstrap figures and the promotion gate (pure arithmetic,
checked against scikit-learn's own ROC AUC and average precision)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from pulse.ml import evaluate as E
from pulse.ml.evaluate import evaluate, promote


def _data(n_users: int = 300, days: int = 5, seed: int = 1):
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), days)
    risk = np.repeat(rng.random(n_users), days)
    y = (rng.random(len(users)) < risk).astype(int)
    good = risk + rng.normal(0, 0.1, len(users))
    weak = risk + rng.normal(0, 0.6, len(users))
    # ties on purpose: a rounded score
    return y, users, np.round(good, 1), weak


def test_point_figures_match_sklearn() -> None:
    y, users, good, weak = _data()
    e = evaluate(y, {"model": good, "recency": weak}, users, n_boot=20)
    for name, s in (("model", good), ("recency", weak)):
        assert e["scorers"][name]["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-4)
        assert e["scorers"][name]["pr_auc"] == pytest.approx(
            average_precision_score(y, s), abs=1e-4)


def test_weighted_resample_equals_copied_rows() -> None:
    from pulse.ml.evaluate import _Ranker

    y, _users, good, _ = _data(50, 3)
    w = np.random.default_rng(3).integers(0, 3, len(y)).astype(float)
    rows = np.repeat(np.arange(len(y)), w.astype(int))
    auc, ap = _Ranker(y, good).figures(w)
    assert auc == pytest.approx(roc_auc_score(y[rows], good[rows]), abs=1e-9)
    assert ap == pytest.approx(average_precision_score(y[rows], good[rows]), abs=1e-9)


def test_gate_promotes_the_better_and_rejects_the_worse() -> None:
    y, users, good, weak = _data()
    better = evaluate(y, {"model": good, "baseline": weak}, users, n_boot=100)
    assert better["best_baseline"] == "baseline"
    lo, hi = better["auc_difference"]["roc_auc_ci"]
    assert 0 < lo <= better["auc_difference"]["roc_auc"] <= hi
    ok, why = promote(better)
    assert ok, why
    # a lower bound asked above the whole interval refuses even the better model
    assert not promote(better, min_lower_bound=hi)[0]

    worse = evaluate(y, {"model": weak, "rule": good, "recency": weak * 0.5}, users,
                     n_boot=100)
    assert worse["best_baseline"] == "rule"
    ok, why = promote(worse)
    assert not ok and why.startswith("rejected")


def test_intervals_resample_groups_not_rows() -> None:
    # the same users repeated over more days: row resampling would shrink the interval,
    # group resampling keeps it about as wide
    y1, u1, g1, w1 = _data(200, 2, seed=5)
    y2, u2, g2, w2 = np.tile(y1, 10), np.tile(u1, 10), np.tile(g1, 10), np.tile(w1, 10)
    a = evaluate(y1, {"model": g1, "b": w1}, u1, n_boot=200)
    b = evaluate(y2, {"model": g2, "b": w2}, u2, n_boot=200)
    width = lambda e: np.diff(e["scorers"]["model"]["roc_auc_ci"])[0]  # noqa: E731
    assert width(b) > 0.7 * width(a)


def test_bad_input_is_refused() -> None:
    y, users, good, weak = _data(20, 1)
    with pytest.raises(ValueError, match="model"):
        evaluate(y, {"rule": good, "recency": weak}, users)
    with pytest.raises(ValueError, match="baseline"):
        evaluate(y, {"model": good}, users)
    with pytest.raises(ValueError, match="one class"):
        evaluate(np.zeros_like(y), {"model": good, "b": weak}, users)


def test_lead_time_counts_warnings_on_the_days_before_the_churn() -> None:
    import pandas as pd

    days = pd.date_range("2026-03-01", "2026-03-31")
    n = len(days)
    churn = pd.Timestamp("2026-03-21")  # last active on the 20th
    # a: flagged from the 16th (while still active, labelled "not churned"): 5 days early;
    # b: flagged only from the 24th, once silent; c: never flagged; d: flagged early on
    # the 2nd, outside the 10-day window before its churn, then not again
    p = {"a": [0.9 if d >= pd.Timestamp("2026-03-16") else 0.1 for d in days],
         "b": [0.9 if d >= pd.Timestamp("2026-03-24") else 0.1 for d in days],
         "c": [0.1] * n,
         "d": [0.9 if d == pd.Timestamp("2026-03-02") else 0.1 for d in days]}
    groups, day_col, churn_col, scores = [], [], [], []
    for g, ps in p.items():
        groups += [g] * n
        day_col += list(days)
        churn_col += [churn if d >= churn - pd.Timedelta(days=1) else pd.NaT for d in days]
        scores += ps
    out = E.lead_time(groups, day_col, churn_col, scores, threshold=0.7, window_days=10)
    assert (out["churned"], out["flagged"], out["flagged_before_churn"]) == (4, 2, 1)
    assert out["median_days"] == 1.0  # the median of +5 and -3
