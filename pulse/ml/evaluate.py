"""Honest comparison of a model with its baselines, and the promotion gate (docs/evaluation.md).

Every scorer is judged on the same validation rows. The intervals come from a bootstrap
that resamples GROUPS (users for the user model, tenants for a tenant model), never rows:
one user's consecutive daily snapshots are nearly copies of each other, and resampling
them as independent rows would make the intervals far too narrow. The model-minus-best-
baseline difference is a paired bootstrap: each resample scores every scorer on the same
drawn groups, so the difference's interval is not the (wider) gap between two intervals.

A resample is a weight per row (how many times its group was drawn), so the figures are
weighted ROC AUC / average precision on the original rows: the same numbers as copying
the rows, without copying them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

MODEL = "model"
DEFAULT_N_BOOT = 200
DEFAULT_SEED = 20260101
CONFIDENCE = 0.95


class _Ranker:
    """One scorer's order, computed once; ROC AUC and PR AUC for any row weights."""

    def __init__(self, y: np.ndarray, score: np.ndarray) -> None:
        order = np.argsort(-score, kind="stable")  # highest score first
        s = score[order]
        self.order = order
        self.y = y[order].astype(float)
        # tied scores form one threshold: their rows move together
        self.tie = np.concatenate(([0], np.cumsum(s[1:] != s[:-1])))
        self.n_ties = int(self.tie[-1]) + 1 if len(s) else 0

    def figures(self, w: np.ndarray) -> tuple[float, float]:
        w = w[self.order]
        pos = np.bincount(self.tie, weights=w * self.y, minlength=self.n_ties)
        neg = np.bincount(self.tie, weights=w * (1.0 - self.y), minlength=self.n_ties)
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos <= 0 or total_neg <= 0:
            return float("nan"), float("nan")
        # ROC AUC: P(score of a positive > score of a negative), ties count half;
        # thresholds run from the highest score down, so the negatives ranked below a
        # threshold are those of later thresholds
        neg_below = total_neg - np.cumsum(neg)
        auc = float((pos * (neg_below + 0.5 * neg)).sum() / (total_pos * total_neg))
        # average precision as scikit-learn defines it: sum over thresholds of
        # (recall gained) x (precision at that threshold)
        tp, seen = np.cumsum(pos), np.cumsum(pos + neg)
        precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
        ap = float((pos / total_pos * precision).sum())
        return auc, ap


def _interval(values: np.ndarray) -> list[float] | None:
    values = values[~np.isnan(values)]
    if not len(values):
        return None
    tail = (1.0 - CONFIDENCE) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return [round(float(lo), 4), round(float(hi), 4)]


def evaluate(y: Any, scores: Mapping[str, Any], groups: Any, *,
             n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED,
             model: str = MODEL) -> dict:
    """ROC AUC and PR AUC of each scorer with bootstrap 95% intervals over `groups`, and
    the paired difference in ROC AUC between `scores[model]` and the best other scorer
    (the best baseline by point ROC AUC).

    `y`: 0/1 outcomes; `scores`: scorer name -> one score per row (higher = riskier; any
    scale, only the order matters); `groups`: one group key per row (user or tenant id).
    The result is plain JSON (it goes to the registry as is)."""
    y = np.asarray(y, dtype=int)
    groups = np.asarray(groups)
    if model not in scores:
        raise ValueError(f"scores has no {model!r} entry: pass the model's scores under it")
    if len(scores) < 2:
        raise ValueError("give at least one baseline beside the model")
    if len(np.unique(y)) < 2:
        raise ValueError("the validation rows hold one class only: widen the range or load "
                         "more days")
    rankers = {}
    for name, s in scores.items():
        arr = np.asarray(s, dtype=float)
        if arr.shape != y.shape:
            raise ValueError(f"scorer {name!r} has {arr.shape[0]} scores for {len(y)} rows")
        rankers[name] = _Ranker(y, np.nan_to_num(arr, nan=-np.inf))
    _, group_of_row = np.unique(groups, return_inverse=True)
    n_groups = int(group_of_row.max()) + 1

    point = {name: r.figures(np.ones(len(y))) for name, r in rankers.items()}
    rng = np.random.default_rng(seed)
    boot = {name: np.empty((n_boot, 2)) for name in rankers}
    for b in range(n_boot):
        drawn = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        w = drawn[group_of_row].astype(float)
        for name, r in rankers.items():
            boot[name][b] = r.figures(w)

    baselines = [n for n in rankers if n != model]
    best = max(baselines, key=lambda n: point[n][0])
    out: dict = {
        "rows": len(y), "groups": n_groups, "positives": int(y.sum()),
        "base_rate": round(float(y.mean()), 4), "n_boot": n_boot, "seed": seed,
        "confidence": CONFIDENCE, "model": model, "best_baseline": best,
        "scorers": {
            name: {"roc_auc": round(point[name][0], 4),
                   "roc_auc_ci": _interval(boot[name][:, 0]),
                   "pr_auc": round(point[name][1], 4),
                   "pr_auc_ci": _interval(boot[name][:, 1])}
            for name in rankers},
        "differences": {},
    }
    for name in baselines:
        diff = boot[model][:, 0] - boot[name][:, 0]
        out["differences"][name] = {
            "roc_auc": round(point[model][0] - point[name][0], 4),
            "roc_auc_ci": _interval(diff)}
    out["auc_difference"] = {"vs": best, **out["differences"][best]}
    return out


def promote(evaluation: Mapping[str, Any], *, min_lower_bound: float = 0.0) -> tuple[bool, str]:
    """Whether the model may become current: its ROC AUC beats the best baseline's and the
    paired interval's lower bound of the difference is above `min_lower_bound`."""
    d = evaluation["auc_difference"]
    model, vs = evaluation["model"], d["vs"]
    auc = evaluation["scorers"][model]["roc_auc"]
    base = evaluation["scorers"][vs]["roc_auc"]
    ci = d["roc_auc_ci"]
    if ci is None:
        return False, f"rejected: no usable bootstrap resample to compare {model} with {vs}"
    lo, hi = ci
    figures = (f"ROC AUC {auc:.3f} vs {vs} {base:.3f}, difference {d['roc_auc']:+.3f} "
               f"(95% CI {lo:+.3f}..{hi:+.3f})")
    if d["roc_auc"] <= 0:
        return False, f"rejected: does not beat the best baseline: {figures}"
    if lo <= min_lower_bound:
        return False, (f"rejected: the difference's lower bound {lo:+.3f} is not above "
                       f"{min_lower_bound:+.3f}: {figures}")
    return True, f"promoted: {figures}"


def lead_time(groups: Any, days: Any, churn_day: Any, p: Any, *,
              threshold: float, window_days: int = 30) -> dict:
    """How early a score warned: per group (user or tenant) that churned on the rows, days
    from its first score above `threshold` on any of its rows from `window_days` before
    its churn day on, to its churn day (positive: warned before the churn; 0 or less:
    flagged only once silent). `churn_day` is the group's churn day on its churned rows
    (NaT elsewhere); the group's earlier rows, labelled "not churned" because it was
    still active, are where an early warning shows. Only what the rows cover counts."""
    import pandas as pd

    frame = pd.DataFrame({"g": np.asarray(groups), "day": pd.to_datetime(np.asarray(days)),
                          "churn": pd.to_datetime(np.asarray(churn_day)),
                          "flag": np.asarray(p, dtype=float) > threshold})
    per = frame.loc[frame["churn"].notna()].groupby("g")[["churn"]].min()
    rows = frame.drop(columns="churn").join(per, on="g", how="inner")
    near = rows.loc[rows["flag"]
                    & (rows["day"] >= rows["churn"] - pd.Timedelta(days=window_days))]
    per = per.join(near.groupby("g")["day"].min().rename("first_flag"), how="left")
    flagged = per.loc[per["first_flag"].notna()]
    lead = (flagged["churn"] - flagged["first_flag"]).dt.days.to_numpy(dtype=float)
    out: dict = {"threshold": threshold, "window_days": window_days, "churned": len(per),
                 "flagged": len(flagged),
                 "flagged_share": round(len(flagged) / len(per), 4) if len(per) else None}
    if len(lead):
        q25, q50, q75 = np.percentile(lead, [25, 50, 75])
        out.update(median_days=round(float(q50), 1), p25_days=round(float(q25), 1),
                   p75_days=round(float(q75), 1),
                   flagged_before_churn=int((lead > 0).sum()))
    return out
