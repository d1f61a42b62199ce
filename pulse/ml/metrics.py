"""Validation figures of a churn score: the model's and the rule-based health score's."""

from __future__ import annotations

import numpy as np


def evaluate(y: np.ndarray, score: np.ndarray) -> dict:
    """ROC AUC, PR AUC, Brier score, calibration by decile and the lift in the top decile.

    `score` must lie in [0, 1]; for the rule-based score that is (100 - health) / 100,
    which ranks users but was never meant as a probability, so its Brier score and
    calibration show how far it is from one.
    """
    # imported here, as in pulse/ml/model.py: only training evaluates
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=float)
    if len(np.unique(y)) < 2:
        raise ValueError("the validation range has only one class: widen it or load more days")
    base_rate = float(y.mean())
    # deciles by rank, ties broken by position, so every decile holds a tenth of the rows
    order = np.argsort(-score, kind="stable")
    deciles = np.empty(len(y), dtype=int)
    deciles[order] = np.arange(len(y)) * 10 // len(y)
    calibration = []
    for d in range(10):
        mask = deciles == d
        calibration.append({
            "decile": d + 1,  # 1 = highest scores
            "users": int(mask.sum()),
            "mean_predicted": round(float(score[mask].mean()), 4),
            "observed_rate": round(float(y[mask].mean()), 4),
        })
    top = deciles == 0
    return {
        "rows": len(y),
        "base_rate": round(base_rate, 4),
        "roc_auc": round(float(roc_auc_score(y, score)), 4),
        "pr_auc": round(float(average_precision_score(y, score)), 4),
        "brier": round(float(brier_score_loss(y, score)), 4),
        "top_decile_lift": round(float(y[top].mean()) / base_rate, 3) if base_rate else None,
        "calibration": calibration,
    }


def rule_based_score(health_score: np.ndarray) -> np.ndarray:
    """The rule-based health score (0 healthy .. 100) as a churn score in [0, 1]."""
    h = np.nan_to_num(np.asarray(health_score, dtype=float), nan=0.0)
    return np.clip((100.0 - h) / 100.0, 0.0, 1.0)
