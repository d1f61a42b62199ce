"""Training: time ranges, fitting, validation against the rule-based score, registry.

Never a random split: the model trains on snapshot days of one range and is validated on
a later range. The training range ends so that its labels' 30-day windows close before
the validation range begins (a purge of `HORIZON_DAYS`), so a model validated on day V
knew nothing that happened after V, exactly like a model trained on night V.
"""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from pulse import migrate
from pulse.ml import features as F
from pulse.ml import metrics, registry
from pulse.ml.model import DEFAULT_PARAMS, PulseModel, classifier, fit_propensity
from pulse.ml.registry import Ranges

log = logging.getLogger(__name__)

DEFAULT_SEED = 20260101
VALIDATION_DAYS = 14
# the first days of the data have truncated histories (users who were already there
# look new): no training snapshot before this many days of data
MIN_HISTORY_DAYS = 14
# training snapshots are taken every `step` days, the step chosen to stay near this
MAX_TRAINING_ROWS = 250_000


class NotEnoughHistory(RuntimeError):
    """Too few loaded days to train and validate honestly."""


def days_needed() -> int:
    """Loaded days `default_ranges` needs: the history, one training day, the purge, the
    validation days and their outcomes (`pulse summary` and the demo say it too)."""
    return MIN_HISTORY_DAYS + 2 * F.HORIZON_DAYS + VALIDATION_DAYS + 1


def default_ranges(first_day: date, data_through: date) -> Ranges:
    validation_end = data_through - timedelta(days=F.HORIZON_DAYS)
    validation_start = validation_end - timedelta(days=VALIDATION_DAYS - 1)
    train_end = validation_start - timedelta(days=F.HORIZON_DAYS + 1)
    train_start = first_day + timedelta(days=MIN_HISTORY_DAYS)
    if train_start > train_end:
        needed = days_needed()
        raise NotEnoughHistory(
            f"training needs at least {needed} loaded days ({MIN_HISTORY_DAYS} of history, "
            f"a training range, a {F.HORIZON_DAYS}-day purge, {VALIDATION_DAYS} validation "
            f"days and their {F.HORIZON_DAYS}-day outcomes); the warehouse has "
            f"{(data_through - first_day).days + 1} ({first_day} to {data_through}). Load "
            "more days, or give explicit ranges (`pulse ml train --help`)")
    return Ranges(train_start, train_end, validation_start, validation_end, data_through)


def check_ranges(r: Ranges) -> None:
    if not (r.train_start <= r.train_end < r.validation_start <= r.validation_end):
        raise ValueError(f"ranges must be ordered train_start <= train_end < "
                         f"validation_start <= validation_end, got {r.as_dict()}")
    if r.validation_end + timedelta(days=F.HORIZON_DAYS) > r.data_through:
        raise ValueError(
            f"validation_end {r.validation_end} has no {F.HORIZON_DAYS}-day outcome by "
            f"{r.data_through}: end validation on {r.data_through - timedelta(F.HORIZON_DAYS)} "
            "or earlier")


def _population(frame: pd.DataFrame) -> pd.DataFrame:
    """Who is trained and validated on: consenting users still active in the 30 days up
    to T (a user already gone needs no prediction), whose outcome is known."""
    keep = (frame["consent_ml_predictions"] & frame["is_active_customer"]
            & frame[F.CHURN_LABEL].notna())
    return frame.loc[keep].reset_index(drop=True)


def _step(days: int, rows_per_day: float) -> int:
    return max(1, int(np.ceil(days * rows_per_day / MAX_TRAINING_ROWS)))


def _adoption_rows(frame: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    labels = F.adoption(days)
    labels = labels.loc[labels[F.ADOPTION_LABEL].notna()]
    return labels.merge(frame, on=list(F.KEYS), how="inner")


def fit(train: pd.DataFrame, adoption_rows: pd.DataFrame, params: dict,
        seed: int) -> PulseModel:
    x = F.matrix(train)
    y = train[F.CHURN_LABEL].astype(int).to_numpy()
    churn = classifier(params, seed).fit(x, y)
    reference = np.nanmedian(x, axis=0)
    reference = np.where(np.isnan(reference), 0.0, reference)
    # adoption propensities are checked with folds of whole users (their daily rows are
    # near copies); upgrade is the tenant model's (pulse.ml.tenant)
    adoption = {
        name: fit_propensity(F.matrix(group), group[F.ADOPTION_LABEL].astype(int).to_numpy(),
                             params, seed,
                             groups=(group["tenant_id"] + "/" + group["user_id"]).to_numpy())
        for name, group in adoption_rows.groupby("feature_name", sort=True)
    }
    return PulseModel(F.FEATURES, churn, reference, None, adoption)


def train(as_of: date | None = None, ranges: Ranges | None = None,
          seed: int = DEFAULT_SEED, params: dict | None = None,
          register: bool = True) -> dict:
    """Train on the loaded snapshots as of `as_of` (default: the last loaded day), validate,
    save the artifact and register it. Returns the registry row's content."""
    migrate.apply(log=log.info)
    params = {**DEFAULT_PARAMS, **(params or {})}
    first_day, last_day = F.loaded_range()
    if as_of is not None and as_of > last_day:
        raise ValueError(f"as_of {as_of} is after the last loaded day {last_day}")
    through = as_of or last_day
    ranges = ranges or default_ranges(first_day, through)
    check_ranges(ranges)

    started = time.perf_counter()
    train_days = F.days_between(ranges.train_start, ranges.train_end)
    probe = _population(F.snapshots([ranges.train_end]))
    step = _step(len(train_days), len(probe))
    train_days = train_days[::step]
    train_set = _population(F.snapshots(train_days))
    val_days = F.days_between(ranges.validation_start, ranges.validation_end)
    val_set = _population(F.snapshots(val_days))
    if train_set[F.CHURN_LABEL].nunique() < 2:
        raise NotEnoughHistory(
            f"the training range {ranges.train_start}..{ranges.train_end} has "
            f"{len(train_set)} labelled rows of one class only: widen it or load more days")
    adoption_rows = _adoption_rows(train_set, train_days)
    read_seconds = time.perf_counter() - started

    fit_started = time.perf_counter()
    model = fit(train_set, adoption_rows, params, seed)
    fit_seconds = time.perf_counter() - fit_started

    p_val = model.churn_probability(val_set)
    y_val = val_set[F.CHURN_LABEL].astype(int).to_numpy()
    figures = {
        "model": metrics.evaluate(y_val, p_val),
        "rule_based_health_score": metrics.evaluate(
            y_val, metrics.rule_based_score(val_set[F.RULE_SCORE].to_numpy())),
        "training": {"rows": len(train_set), "snapshot_days": len(train_days),
                     "step_days": step, "base_rate": round(float(
                         train_set[F.CHURN_LABEL].astype(int).mean()), 4)},
        "propensities": {
            **{f"adopt_{k}": _propensity_info(v) for k, v in model.adoption.items()},
        },
        "seconds": {"read": round(read_seconds, 2), "fit": round(fit_seconds, 2)},
    }
    result = {"ranges": ranges.as_dict(), "params": {**params, "seed": seed},
              "features": list(F.FEATURES), "metrics": figures}
    if register:
        version, path, sha = registry.save_artifact(model, ranges.data_through)
        registry.register(version, path, sha, ranges, result["params"], list(F.FEATURES),
                          figures)
        result.update(model_version=version, artifact_path=str(path), artifact_sha256=sha)
        log.info("registered %s: validation ROC AUC %.3f (rule-based %.3f)", version,
                 figures["model"]["roc_auc"], figures["rule_based_health_score"]["roc_auc"])
    return result


def _propensity_info(p) -> dict:
    return {"kind": "not_written" if p.estimator is None else "classifier",
            "training_rows": p.rows, "training_positives": p.positives,
            "base_rate": round(p.base_rate, 5), "cross_validation": p.check}
