"""Is a propensity worth writing? Grouped cross-validation against its base rate.

A propensity is written only when its out-of-fold scores beat the base rate on both
ranking (ROC AUC above 0.5) and calibration (Brier score below the base rate's). Folds
hold out whole groups (tenants for a tenant propensity), so a group's near-identical
daily rows never sit on both sides of a split (docs/scoring.md "Propensities").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pulse.ml import metrics

FOLDS = 5
MIN_POSITIVES = 20
# the check fits FOLDS models: on more rows than this it runs on a sample of whole groups
MAX_CHECK_ROWS = 50_000


def group_folds(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold number per row: groups shuffled with `seed`, then dealt round-robin."""
    names = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: k % folds for k, i in enumerate(order)}
    return np.array([fold_of[g] for g in groups], dtype=int)


def out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
                fit: Callable[[np.ndarray, np.ndarray], object], *,
                folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Each row scored by a model fitted without its group; NaN where the training folds
    held one class only."""
    fold = group_folds(groups, min(folds, len(np.unique(groups))), seed)
    p = np.full(len(y), np.nan)
    for k in np.unique(fold):
        train, test = fold != k, fold == k
        if len(np.unique(y[train])) < 2:
            continue
        p[test] = fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    return p


def check(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
          fit: Callable[[np.ndarray, np.ndarray], object], *, seed: int = 0) -> dict:
    """The propensity's cross-validated figures and whether it beats the base rate."""
    y = np.asarray(y, dtype=int)
    positives = int(y.sum())
    out: dict = {"rows": len(y), "positives": positives, "groups": len(np.unique(groups)),
                 "folds": FOLDS, "base_rate": round(float(y.mean()), 4) if len(y) else None}
    if positives < MIN_POSITIVES or len(y) - positives < MIN_POSITIVES:
        return out | {"written": False,
                      "reason": f"fewer than {MIN_POSITIVES} rows of one class"}
    names, counts = np.unique(groups, return_counts=True)
    if len(y) > MAX_CHECK_ROWS:
        order = np.random.default_rng(seed).permutation(len(names))
        kept = names[order][np.cumsum(counts[order]) <= MAX_CHECK_ROWS]
        sample = np.isin(groups, kept)
        x, y, groups = x[sample], y[sample], groups[sample]
        out["checked_rows"] = len(y)
    p = out_of_fold(x, y, groups, fit, seed=seed)
    known = ~np.isnan(p)
    if len(np.unique(y[known])) < 2:
        return out | {"written": False, "reason": "no fold could be scored"}
    figures = metrics.evaluate(y[known], p[known])
    rate = float(y[known].mean())
    base_brier = rate * (1.0 - rate)
    beats = figures["roc_auc"] > 0.5 and figures["brier"] < base_brier
    return out | {
        "roc_auc": figures["roc_auc"], "pr_auc": figures["pr_auc"],
        "brier": figures["brier"], "base_rate_brier": round(base_brier, 4),
        "reliability": figures["calibration"], "written": bool(beats),
        "reason": ("beats the base rate" if beats else
                   "does not beat the base rate (ROC AUC <= 0.5 or Brier >= the base "
                   "rate's)")}
