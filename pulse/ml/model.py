"""The artifact: the churn classifier, the propensity models and how LTV is derived.

One picklable object, so reloading an artifact reproduces every score exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pulse.ml.features import matrix

RISK_BANDS = ((0.7, "high"), (0.3, "medium"))  # docs/scoring.md: > 0.7 high, > 0.3 medium
# a consenting user outside the trained population (not active in the last 30 days)
INACTIVE = "inactive"
TOP_FACTORS = 3
LTV_MONTHS = 12
# A propensity whose training range has fewer positive examples than this is the
# smoothed base rate of its training range, not a model (recorded in the registry).
MIN_POSITIVES = 20

DEFAULT_PARAMS: dict = {
    "max_iter": 200,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "calibration": "sigmoid",
    "calibration_folds": 3,
}


def classifier(params: dict, seed: int):
    """A histogram gradient-boosted tree whose probabilities are calibrated by
    cross-validated sigmoid (Platt) scaling within the training range."""
    # scikit-learn takes seconds to import: only training pays for it, not every
    # importer of this module (scoring unpickles an artifact, which imports it anyway).
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier

    tree = HistGradientBoostingClassifier(
        max_iter=params["max_iter"],
        learning_rate=params["learning_rate"],
        max_leaf_nodes=params["max_leaf_nodes"],
        min_samples_leaf=params["min_samples_leaf"],
        l2_regularization=params["l2_regularization"],
        early_stopping=False,
        random_state=seed,
    )
    # ensemble=False: one booster fitted on the whole training range, its scores Platt-
    # scaled on cross-validated predictions. The default (one booster per fold) predicts
    # three times slower, and the top factors cost one prediction per feature.
    return CalibratedClassifierCV(tree, method=params["calibration"],
                                  cv=params["calibration_folds"], ensemble=False)


# HistGradientBoosting builds its histograms with OpenMP on every core. On small
# matrices the threads' start and synchronisation cost more than they save: measured on
# 2 cores (20 features, 100 trees), 1 thread is faster below ~15,000 rows and uses half
# the CPU (a demo's training: 20.6 s on 1 thread against 28.6 s on 2, CPU 20 s against
# 49 s); from 20,000 rows on, 2 threads are faster (400,000 rows: 15 s against 25 s).
SERIAL_BELOW_ROWS = 15_000


def fit_estimator(estimator, x: np.ndarray, y: np.ndarray):
    """`estimator.fit(x, y)`, on one OpenMP thread when `x` is small (SERIAL_BELOW_ROWS)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1 if len(x) < SERIAL_BELOW_ROWS else None,
                           user_api="openmp"):
        return estimator.fit(x, y)


@dataclass
class Propensity:
    """A fitted classifier; None when positives were too few or, checked by grouped
    cross-validation, it did not beat the base rate: then it is not written at all
    (docs/scoring.md "Propensities")."""

    estimator: object | None
    base_rate: float
    positives: int
    rows: int
    check: dict | None = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.estimator is None:
            return np.full(len(x), self.base_rate)
        return self.estimator.predict_proba(x)[:, 1]


def fit_propensity(x: np.ndarray, y: np.ndarray, params: dict, seed: int,
                   groups: np.ndarray | None = None) -> Propensity:
    """The classifier, fitted when it has enough positives and (given `groups`) beats
    the base rate in grouped cross-validation."""
    from pulse.ml import propensity

    y = np.asarray(y, dtype=int)
    positives = int(y.sum())
    rate = (positives + 1) / (len(y) + 2)  # Laplace: never exactly 0 or 1
    if positives < MIN_POSITIVES or len(y) - positives < MIN_POSITIVES:
        return Propensity(None, rate, positives, len(y))
    check = None
    if groups is not None:
        check = propensity.check(
            x, y, groups, lambda a, b: fit_estimator(classifier(params, seed), a, b),
            seed=seed)
        if not check["written"]:
            return Propensity(None, rate, positives, len(y), check)
    return Propensity(fit_estimator(classifier(params, seed), x, y), rate, positives, len(y),
                      check)


@dataclass
class PulseModel:
    features: tuple[str, ...]
    churn: object
    # the training range's medians: a factor's contribution is how much the score drops
    # when that feature alone is set to its median
    reference: np.ndarray
    # upgrade is a tenant-level propensity (pulse.ml.tenant): never copied to users
    upgrade: Propensity | None
    adoption: dict[str, Propensity] = field(default_factory=dict)

    def churn_probability(self, frame: pd.DataFrame) -> np.ndarray:
        return np.clip(self.churn.predict_proba(matrix(frame, self.features))[:, 1], 0.0, 1.0)

    def top_factors(self, frame: pd.DataFrame, p: np.ndarray) -> list[list[dict]]:
        """Per row, the features that raise the churn probability most above what it
        would be with that feature at its training median (largest first; only positive
        contributions)."""
        x = matrix(frame, self.features)
        contributions = np.zeros_like(x)
        for j in range(x.shape[1]):
            moved = x.copy()
            moved[:, j] = self.reference[j]
            contributions[:, j] = p - self.churn.predict_proba(moved)[:, 1]
        out: list[list[dict]] = []
        for row in contributions:
            best = np.argsort(-row, kind="stable")[:TOP_FACTORS]
            out.append([{"feature": self.features[j], "contribution": round(float(row[j]), 4)}
                        for j in best if row[j] > 0.0005])
        return out

    def propensities(self, frame: pd.DataFrame, unused: pd.DataFrame) -> list[dict]:
        """adopt_<feature> for each core feature not used yet, for the propensities that
        beat their base rate (upgrade is the tenant's, in ml.tenant_scores)."""
        x = matrix(frame, self.features)
        scores: list[dict] = [{} for _ in range(len(frame))]
        if unused.empty:
            return scores
        position = {key: i for i, key in enumerate(zip(frame["tenant_id"], frame["user_id"],
                                                       strict=True))}
        for name, group in unused.groupby("feature_name", sort=True):
            model = self.adoption.get(name)
            if model is None or model.estimator is None:
                # a core feature added after training, or a propensity no better than
                # its base rate: no score rather than a guess
                continue
            rows = [position[k] for k in zip(group["tenant_id"], group["user_id"], strict=True)
                    if k in position]
            for i, v in zip(rows, model.predict(x[rows]), strict=True):
                scores[i][f"adopt_{name}"] = round(float(v), 4)
        return scores


@dataclass
class Baseline:
    """A logistic model on one input: the rule-based health score calibrated on the
    training range, or recency alone (docs/evaluation.md). Any churn model must beat
    these on the same rows to be promoted."""

    name: str
    estimator: object

    def churn_probability(self, frame: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_proba(baseline_input(self.name, frame))[:, 1]


BASELINES = ("rule_calibrated", "recency")


def baseline_input(name: str, frame: pd.DataFrame) -> np.ndarray:
    if name == "rule_calibrated":
        from pulse.ml.metrics import rule_based_score

        return rule_based_score(frame["rule_health_score"].to_numpy()).reshape(-1, 1)
    if name == "recency":
        # a user never active has no recency: as far back as the population allows
        days = frame["days_since_active"].to_numpy(dtype=float)
        return np.nan_to_num(days, nan=float(np.nanmax(days, initial=0.0))).reshape(-1, 1)
    raise ValueError(f"unknown baseline {name!r}: one of {', '.join(BASELINES)}")


def fit_baseline(name: str, frame: pd.DataFrame, y: np.ndarray) -> Baseline:
    from sklearn.linear_model import LogisticRegression

    return Baseline(name, LogisticRegression().fit(baseline_input(name, frame), y))


@dataclass
class RuleBaselineModel(PulseModel):
    """What is served as model_version 'rule-baseline' while no model has passed the gate:
    the calibrated rule score as churn probability, no top factors (the rule's points are
    the health score's own columns), and the propensities fitted beside it."""

    rule: Baseline | None = None

    def churn_probability(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.rule is not None
        return np.clip(self.rule.churn_probability(frame), 0.0, 1.0)

    def top_factors(self, frame: pd.DataFrame, p: np.ndarray) -> list[list[dict]]:
        return [[] for _ in range(len(frame))]


def risk_band(p: float) -> str:
    for threshold, band in RISK_BANDS:
        if p > threshold:
            return band
    return "low"


def ltv(frame: pd.DataFrame, p: np.ndarray) -> np.ndarray:
    """Expected revenue over the next 12 months.

    A user active in the last 30 days carries an equal share of the tenant's MRR (the
    accounts export's MRR / the tenant's MAU); month m's share is earned if the user is
    still there, with probability (1 - p)^(m - 1), p being the 30-day churn probability.
    Users not active in 30 days carry no share.
    """
    mrr = frame["tenant_mrr"].fillna(0.0).to_numpy(dtype=float)
    mau = frame["tenant_mau"].fillna(0.0).to_numpy(dtype=float)
    active = frame["is_active_customer"].to_numpy(dtype=bool)
    share = np.where(active & (mau > 0), mrr / np.maximum(mau, 1.0), 0.0)
    stay = 1.0 - np.asarray(p, dtype=float)
    months = sum(stay ** m for m in range(LTV_MONTHS))
    return np.round(share * months, 2)
