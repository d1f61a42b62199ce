"""Training: time ranges, fitting, validation against the rule-based score, registry.

Never a random split: the model trains on snapshot days of one range and is validated on
a later range. The training range ends so that its labels' 30-day windows close before
the validation range begins (a purge of `HORIZON_DAYS`), so a model validated on day V
knew nothing that happened after V, exactly like a model trained on night V.

Over 300 lines on purpose: the time ranges, the fit, the evaluation against the
baselines, the backtest and the refit are one procedure whose order is the guarantee
against leakage; the arithmetic is apart (pulse.ml.evaluate).
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from pulse import migrate
from pulse.config import ml_min_auc_lower_bound
from pulse.ml import evaluate as E
from pulse.ml import features as F
from pulse.ml import metrics, registry
from pulse.ml.model import (
    BASELINES,
    DEFAULT_PARAMS,
    RISK_BANDS,
    Baseline,
    PulseModel,
    RuleBaselineModel,
    classifier,
    fit_baseline,
    fit_estimator,
    fit_propensity,
)
from pulse.ml.registry import Ranges

log = logging.getLogger(__name__)

DEFAULT_SEED = 20260101
VALIDATION_DAYS = 14
# the first days of the data have truncated histories (users who were already there
# look new): no training snapshot before this many days of data
MIN_HISTORY_DAYS = 14
# training snapshots are taken every `step` days, the step chosen to stay near this
MAX_TRAINING_ROWS = 250_000
# the rolling-origin backtest cuts the validation range into this many windows
BACKTEST_ORIGINS = 3
HIGH_RISK = RISK_BANDS[0][0]


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
    to T (a user already gone needs no prediction), whose outcome is known, and who have
    not withdrawn ML consent since (docs/privacy.md "Consent")."""
    withdrawn = pd.MultiIndex.from_frame(frame[["tenant_id", "user_id"]]).isin(
        F.ml_consent_withdrawn())
    keep = (frame["consent_ml_predictions"] & frame["is_active_customer"]
            & frame[F.CHURN_LABEL].notna() & ~withdrawn)
    return frame.loc[keep].reset_index(drop=True)


def _step(days: int, rows_per_day: float) -> int:
    return max(1, int(np.ceil(days * rows_per_day / MAX_TRAINING_ROWS)))


def _adoption_rows(frame: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    labels = F.adoption(days)
    labels = labels.loc[labels[F.ADOPTION_LABEL].notna()]
    return labels.merge(frame, on=list(F.KEYS), how="inner")


def fit(train: pd.DataFrame, adoption_rows: pd.DataFrame, params: dict,
        seed: int, features: tuple[str, ...] = F.FEATURES) -> PulseModel:
    x = F.matrix(train, features)
    y = train[F.CHURN_LABEL].astype(int).to_numpy()
    churn = fit_estimator(classifier(params, seed), x, y)
    reference = np.nanmedian(x, axis=0)
    reference = np.where(np.isnan(reference), 0.0, reference)
    # adoption propensities are checked with folds of whole users (their daily rows are
    # near copies); upgrade is the tenant model's (pulse.ml.tenant)
    adoption = {
        name: fit_propensity(F.matrix(group, features),
                             group[F.ADOPTION_LABEL].astype(int).to_numpy(), params, seed,
                             groups=(group["tenant_id"] + "/" + group["user_id"]).to_numpy())
        for name, group in adoption_rows.groupby("feature_name", sort=True)
    }
    return PulseModel(tuple(features), churn, reference, None, adoption)


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[F.CHURN_LABEL].astype(int).to_numpy()


def _groups(frame: pd.DataFrame) -> np.ndarray:
    """Bootstrap unit: the user (a user's daily rows are not independent)."""
    return (frame["tenant_id"].astype(str) + "/" + frame["user_id"].astype(str)).to_numpy()


def _scores(model, baselines: dict[str, Baseline], frame: pd.DataFrame) -> dict:
    return {E.MODEL: model.churn_probability(frame),
            **{name: b.churn_probability(frame) for name, b in baselines.items()}}


def _fit_baselines(frame: pd.DataFrame) -> dict[str, Baseline]:
    return {name: fit_baseline(name, frame, _labels(frame)) for name in BASELINES}


def _churn_day(frame: pd.DataFrame) -> pd.Series:
    """A churned row's churn day: the day after the user's last activity (the first day of
    the 30-day silence the label names); NaT on rows that did not churn."""
    last_active = (pd.to_datetime(frame["snapshot_date"])
                   - pd.to_timedelta(frame["days_since_active"], unit="D"))
    return (last_active + pd.Timedelta(days=1)).where(frame[F.CHURN_LABEL].astype(bool))


def _backtest(labelled: pd.DataFrame, ranges: Ranges, params: dict, seed: int,
              features: tuple[str, ...]) -> dict:
    """Rolling origin: the validation range cut into BACKTEST_ORIGINS consecutive windows;
    for each, the model and the baselines are refitted on every labelled day up to the
    window's start minus the same purge as the main split, and compared on the window."""
    gap = ranges.validation_start - ranges.train_end
    windows = np.array_split(
        np.array(F.days_between(ranges.validation_start, ranges.validation_end)),
        BACKTEST_ORIGINS)
    origins = []
    for window in windows:
        if not len(window):
            continue
        origin, train_end = window[0], window[0] - gap
        fold_train = labelled.loc[labelled["snapshot_date"] <= train_end]
        fold_val = labelled.loc[labelled["snapshot_date"].isin(set(window))]
        row: dict = {"origin": origin.isoformat(), "train_end": train_end.isoformat(),
                     "validation_end": window[-1].isoformat(),
                     "training_rows": len(fold_train), "validation_rows": len(fold_val)}
        if (fold_train[F.CHURN_LABEL].nunique() < 2 or fold_val[F.CHURN_LABEL].nunique() < 2):
            origins.append({**row, "skipped": "one class only in its training or validation"})
            continue
        # the booster alone: sigmoid calibration is monotone, so it ranks as the
        # calibrated model does, at a quarter of the fitting (no cross-validated fits)
        churn = fit_estimator(classifier(params, seed).estimator,
                              F.matrix(fold_train, features), _labels(fold_train))
        scores = {E.MODEL: churn.predict_proba(F.matrix(fold_val, features))[:, 1],
                  **{n: b.churn_probability(fold_val)
                     for n, b in _fit_baselines(fold_train).items()}}
        e = E.evaluate(_labels(fold_val), scores, _groups(fold_val), n_boot=0)
        origins.append({**row, "roc_auc": {k: v["roc_auc"] for k, v in e["scorers"].items()},
                        "best_baseline": e["best_baseline"],
                        "difference": e["auc_difference"]["roc_auc"]})
    done = [o for o in origins if "difference" in o]
    return {"origins": origins, "evaluated": len(done),
            "model_wins": sum(o["difference"] > 0 for o in done),
            "mean_difference": round(float(np.mean([o["difference"] for o in done])), 4)
            if done else None}


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the training rows (keys, features, label), independent of row order."""
    cols = [*F.KEYS, *F.FEATURES, F.CHURN_LABEL]
    hashed = pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()
    return hashlib.sha256(np.sort(hashed).tobytes()).hexdigest()


def train(as_of: date | None = None, ranges: Ranges | None = None,
          seed: int = DEFAULT_SEED, params: dict | None = None,
          register: bool = True, features: tuple[str, ...] = F.FEATURES,
          min_lower_bound: float | None = None, n_boot: int = E.DEFAULT_N_BOOT) -> dict:
    """Train on the loaded snapshots as of `as_of` (default: the last loaded day), compare
    with the baselines on the same validation rows, pass the promotion gate or not, and
    register the result (docs/evaluation.md). A promoted model is refitted on every
    labelled day up to the validation end, and that refit is the artifact that scores.
    `features` narrows the model's inputs (a weaker model, for tests and experiments).
    Returns the registry row's content."""
    migrate.apply(log=log.info)
    params = {**DEFAULT_PARAMS, **(params or {})}
    threshold = ml_min_auc_lower_bound() if min_lower_bound is None else min_lower_bound
    first_day, last_day = F.loaded_range()
    if as_of is not None and as_of > last_day:
        raise ValueError(f"as_of {as_of} is after the last loaded day {last_day}")
    through = as_of or last_day
    ranges = ranges or default_ranges(first_day, through)
    check_ranges(ranges)
    unknown = set(features) - set(F.FEATURES)
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}: pick from pulse.ml.features")

    started = time.perf_counter()
    probe = _population(F.snapshots([ranges.train_end]))
    step = _step(len(F.days_between(ranges.train_start, ranges.train_end)), len(probe))
    # every labelled day the refit and the backtest may use: the training range and the
    # purge sampled every `step` days, the validation range whole
    val_days = F.days_between(ranges.validation_start, ranges.validation_end)
    labelled_days = sorted(set(F.days_between(ranges.train_start, ranges.validation_end)
                               [::step]) | set(val_days))
    labelled = _population(F.snapshots(labelled_days))
    train_days = [d for d in labelled_days if d <= ranges.train_end]
    train_set = labelled.loc[labelled["snapshot_date"] <= ranges.train_end]
    train_set = train_set.reset_index(drop=True)
    val_set = labelled.loc[labelled["snapshot_date"] >= ranges.validation_start]
    val_set = val_set.reset_index(drop=True)
    if train_set[F.CHURN_LABEL].nunique() < 2:
        raise NotEnoughHistory(
            f"the training range {ranges.train_start}..{ranges.train_end} has "
            f"{len(train_set)} labelled rows of one class only: widen it or load more days")
    adoption_rows = _adoption_rows(train_set, train_days)
    read_seconds = time.perf_counter() - started

    fit_started = time.perf_counter()
    model = fit(train_set, adoption_rows, params, seed, features)
    baselines = _fit_baselines(train_set)
    fit_seconds = time.perf_counter() - fit_started

    y_val = _labels(val_set)
    scores = _scores(model, baselines, val_set)
    evaluation = E.evaluate(y_val, scores, _groups(val_set), n_boot=n_boot, seed=seed)
    recent = (val_set["active_days_last_7"] > 0).to_numpy()
    slice_eval = (E.evaluate(y_val[recent], {k: v[recent] for k, v in scores.items()},
                             _groups(val_set)[recent], n_boot=n_boot, seed=seed)
                  if len(np.unique(y_val[recent])) == 2 else None)
    churn_day = _churn_day(val_set)
    lead = {name: E.lead_time(_groups(val_set), val_set["snapshot_date"], churn_day, s,
                              threshold=HIGH_RISK, window_days=F.HORIZON_DAYS)
            for name, s in scores.items()}
    backtest = _backtest(labelled, ranges, params, seed, features)
    promoted, reason = E.promote(evaluation, min_lower_bound=threshold)

    figures = {
        "model": metrics.evaluate(y_val, scores[E.MODEL]),
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
    report = {"gate": {"promoted": promoted, "reason": reason,
                       "min_lower_bound": threshold},
              "validation": evaluation, "slice_active_last_7_days": slice_eval,
              "lead_time": lead, "backtest": backtest}
    result = {"ranges": ranges.as_dict(), "params": {**params, "seed": seed},
              "features": list(features), "metrics": figures, "evaluation": report,
              "status": "promoted" if promoted else "rejected", "reason": reason}
    if not register:
        return result

    # the refit: selection is done, so every labelled day up to the validation end
    # (sampled as the training range) teaches the artifact that will score
    refit_started = time.perf_counter()
    refit_days = F.days_between(ranges.train_start, ranges.validation_end)[::step]
    refit_set = labelled.loc[labelled["snapshot_date"].isin(set(refit_days))]
    refit_set = refit_set.reset_index(drop=True)
    final = (fit(refit_set, _adoption_rows(refit_set, refit_days), params, seed, features)
             if promoted else model)
    report["refit"] = ({"rows": len(refit_set), "snapshot_days": len(refit_days),
                        "through": ranges.validation_end.isoformat(),
                        "seconds": round(time.perf_counter() - refit_started, 2)}
                       if promoted else None)
    env = registry.environment()
    fp = fingerprint(train_set)
    version, path, sha = registry.save_artifact(final, ranges.data_through)
    registry.register(version, path, sha, ranges, result["params"], list(features),
                      figures, registry.Provenance(result["status"], reason, report, env, fp))
    # the calibrated rule score, refitted on the same labelled days: what is served while
    # no model has ever passed the gate (one row, refreshed by each training)
    rule = RuleBaselineModel(final.features, None, final.reference, final.upgrade,
                             dict(final.adoption),
                             rule=fit_baseline("rule_calibrated", refit_set,
                                               _labels(refit_set)))
    rv, rpath, rsha = registry.save_artifact(rule, ranges.data_through, registry.RULE_BASELINE)
    registry.register(rv, rpath, rsha, ranges, result["params"], ["rule_health_score"],
                      {"rule_calibrated": evaluation["scorers"]["rule_calibrated"]},
                      registry.Provenance("baseline", "the rule score calibrated on the "
                                          "labelled days; served while no model passed",
                                          {}, env, fingerprint(refit_set)))
    result.update(model_version=version, artifact_path=str(path), artifact_sha256=sha,
                  training_fingerprint=fp, environment=env)
    log.info("registered %s (%s): %s", version, result["status"], reason)
    return result


def _propensity_info(p) -> dict:
    return {"kind": "not_written" if p.estimator is None else "classifier",
            "training_rows": p.rows, "training_positives": p.positives,
            "base_rate": round(p.base_rate, 5), "cross_validation": p.check}
