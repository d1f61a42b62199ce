"""Tenant churn: training, the gate against the calibrated rule score, LTV and its backtest.

The label (dbt, marts.ml_tenant_feature_snapshots): a paying tenant churns at day T when
it cancels or its MRR contracts in (T, T + horizon]. Validation is time-ordered AND
tenant-grouped: the model is fitted on training-range rows of some tenants and scored on
validation-range rows of the others (every tenant is held out once), the training range
ending a horizon before the validation range starts. The figures come from
`pulse.ml.evaluate` (bootstrap resampling tenants), the gate from its `promote`; a
rejected model is registered but never current, and scoring then serves the rule score
calibrated on the labelled rows as `rule-baseline` (docs/scoring.md "Tenant churn").

Over 300 lines on purpose: the tenant model's training, validation, gate, LTV backtest and
registry entry are one procedure over one frame; scoring is apart (tenant_score.py).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pulse import migrate, warehouse
from pulse.ml import evaluate as E
from pulse.ml import metrics, propensity, registry
from pulse.ml.features import _frame

log = logging.getLogger(__name__)

SNAPSHOTS = "marts.ml_tenant_feature_snapshots"
LABEL = "churned_within_horizon"
UPGRADE_LABEL = "upgraded_within_horizon"
RULE_SCORE = "rule_health_score"
BACKTEST_DAYS = 90  # dbt var tenant_ltv_backtest_days
REVENUE = f"revenue_next_{BACKTEST_DAYS}d"
RULE_BASELINE = "rule-baseline"
DEFAULT_SEED = 20260101
MIN_HISTORY_DAYS = 14
VALIDATION_DAYS = 14
LTV_MONTHS = 12
DEFAULT_PARAMS: dict = {"C": 0.3}

FEATURES: tuple[str, ...] = (
    "plan_rank",
    "mrr",
    "mrr_change_last_30",
    "licensed_seats",
    "mau",
    "seat_utilization",
    "days_since_active",
    "tenure_days",
    "active_user_days_last_14",
    "active_user_days_prior_14",
    "usage_trend",
    "features_used_last_30",
    "quota_pressure",
    "support_tickets_last_30",
    "share_of_users_healthy",
    "rule_health_score",
)


class NotEnoughHistory(RuntimeError):
    """No labelled tenant rows of both classes yet."""


def snapshots(through: date | None = None, day: date | None = None) -> pd.DataFrame:
    """Tenant snapshots up to `through` (default: all), or of one `day`."""
    if day is not None:
        frame = _frame(f"select * from {SNAPSHOTS} where snapshot_date = %s "
                       "order by tenant_id", (day,))
    else:
        frame = _frame(f"select * from {SNAPSHOTS} where snapshot_date <= coalesce(%s, "
                       "snapshot_date) order by snapshot_date, tenant_id", (through,))
    for col in (*FEATURES, "mrr", REVENUE):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="raise").astype("float64")
    return frame


def _x(frame: pd.DataFrame) -> np.ndarray:
    return frame.loc[:, list(FEATURES)].to_numpy(dtype="float64", na_value=float("nan"))


def _rule_x(frame: pd.DataFrame) -> np.ndarray:
    return metrics.rule_based_score(frame[RULE_SCORE].to_numpy()).reshape(-1, 1)


def _recency_x(frame: pd.DataFrame) -> np.ndarray:
    # never active: as far back as the tenant's tenure
    days = frame["days_since_active"].fillna(frame["tenure_days"]).fillna(0.0)
    return days.to_numpy(dtype=float).reshape(-1, 1)


def _classifier(params: dict):
    """A regularised logistic regression: tens of tenants are too few for trees."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                         StandardScaler(), LogisticRegression(C=params["C"], max_iter=2000))


def _calibrator():
    """Platt scaling of a one-column score: the rule score or recency as a probability."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


@dataclass
class TenantModel:
    features: tuple[str, ...]
    horizon_days: int
    churn: object | None       # None: no model could be fitted, the rule serves
    rule: object               # the rule score's calibration on the labelled rows
    upgrade: object | None     # None: the propensity did not beat its base rate

    def churn_probability(self, frame: pd.DataFrame, use_model: bool) -> np.ndarray:
        if use_model and self.churn is not None:
            p = self.churn.predict_proba(_x(frame))[:, 1]
        else:
            p = self.rule.predict_proba(_rule_x(frame))[:, 1]
        return np.clip(p, 0.0, 1.0)

    def upgrade_propensity(self, frame: pd.DataFrame) -> np.ndarray | None:
        return None if self.upgrade is None else self.upgrade.predict_proba(_x(frame))[:, 1]


def ltv(mrr: np.ndarray, p: np.ndarray, horizon_days: int, months: int = LTV_MONTHS
        ) -> np.ndarray:
    """Expected revenue over the next `months`: month m's MRR is earned while the tenant
    stays, the monthly survival derived from the churn probability over the horizon
    ((1 - p) ** (30 / horizon)). A contraction counts as a loss of the whole MRR, so the
    figure is a floor; the backtest reports how far it is from the revenue realised."""
    stay = (1.0 - np.clip(np.asarray(p, dtype=float), 0.0, 1.0)) ** (30.0 / horizon_days)
    mrr = np.nan_to_num(np.asarray(mrr, dtype=float), nan=0.0)
    return np.round(mrr * sum(stay ** m for m in range(1, months + 1)), 2)


def _oof(frame_train: pd.DataFrame, frame_test: pd.DataFrame, fold_train: np.ndarray,
         fold_test: np.ndarray, fit) -> np.ndarray:
    """Scores of test rows from models fitted on the training rows of the other folds'
    tenants."""
    y = frame_train[LABEL].astype(int).to_numpy()
    p = np.full(len(frame_test), np.nan)
    for k in np.unique(fold_test):
        train = fold_train != k
        if len(np.unique(y[train])) < 2:
            continue
        test = fold_test == k
        p[test] = fit(frame_train.loc[train], y[train]).predict_proba_frame(
            frame_test.loc[test])
    return p


class _Fitted:
    """A fitted estimator bound to its input columns."""

    def __init__(self, estimator, columns) -> None:
        self.estimator, self.columns = estimator, columns

    def predict_proba_frame(self, frame: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_proba(self.columns(frame))[:, 1]


def _fitter(make, columns):
    return lambda frame, y: _Fitted(make().fit(columns(frame), y), columns)


def _validate(labelled: pd.DataFrame, first: date, horizon: int, params: dict,
              seed: int) -> tuple[dict | None, dict]:
    """Time-ordered, tenant-grouped validation: (evaluation or None, ranges/reason)."""
    last = labelled["snapshot_date"].max()
    val_start = last - timedelta(days=VALIDATION_DAYS - 1)
    train_end = val_start - timedelta(days=horizon + 1)
    train_start = first + timedelta(days=MIN_HISTORY_DAYS)
    ranges = {"train_start": train_start.isoformat(), "train_end": train_end.isoformat(),
              "validation_start": val_start.isoformat(), "validation_end": last.isoformat()}
    if train_start > train_end:
        return None, ranges | {"reason": (
            f"a time-ordered validation needs {MIN_HISTORY_DAYS} days of history, a "
            f"training range, a {horizon}-day purge and {VALIDATION_DAYS} validation days "
            f"whose {horizon}-day outcomes are known; the labelled rows end on {last}")}
    days = labelled["snapshot_date"]
    tr = labelled.loc[(days >= train_start) & (days <= train_end)].reset_index(drop=True)
    va = labelled.loc[days >= val_start].reset_index(drop=True)
    fold_of = propensity.group_folds(labelled["tenant_id"].to_numpy(), propensity.FOLDS, seed)
    fold = dict(zip(labelled["tenant_id"], fold_of, strict=True))
    f_tr = tr["tenant_id"].map(fold).to_numpy()
    f_va = va["tenant_id"].map(fold).to_numpy()
    scores = {
        E.MODEL: _oof(tr, va, f_tr, f_va, _fitter(lambda: _classifier(params), _x)),
        "rule_baseline": _oof(tr, va, f_tr, f_va, _fitter(_calibrator, _rule_x)),
        "recency_only": _oof(tr, va, f_tr, f_va, _fitter(_calibrator, _recency_x)),
    }
    keep = ~np.isnan(np.column_stack(list(scores.values()))).any(axis=1)
    y = va[LABEL].astype(int).to_numpy()[keep]
    if len(np.unique(y)) < 2 or len(np.unique(tr[LABEL])) < 2:
        return None, ranges | {"reason": "the training or validation rows hold one class "
                               "only: load more days or tenants"}
    scores = {k: v[keep] for k, v in scores.items()}
    evaluation = E.evaluate(y, scores, va["tenant_id"].to_numpy()[keep], seed=seed)
    evaluation["calibration"] = {
        name: {k: v for k, v in metrics.evaluate(y, s).items()
               if k in ("brier", "calibration")}
        for name, s in scores.items()}
    evaluation["training_rows"] = len(tr)
    return evaluation, ranges


def _ltv_backtest(paying: pd.DataFrame, horizon: int, params: dict, seed: int) -> dict:
    """Predicted revenue over the next BACKTEST_DAYS days against the revenue realised,
    on every paying row whose BACKTEST_DAYS days are loaded; the churn probability of a
    row comes from a model fitted on the other tenants' labelled rows (grouped, not time-
    ordered: tenants' own futures never inform their own predictions)."""
    rows = paying.loc[paying[REVENUE].notna()].reset_index(drop=True)
    labelled = paying.loc[paying[LABEL].notna()].reset_index(drop=True)
    if rows.empty or labelled[LABEL].nunique() < 2:
        return {"rows": len(rows), "reason": f"no paying rows with {BACKTEST_DAYS} days of "
                "realised revenue and labelled rows of both classes"}
    groups = paying["tenant_id"].to_numpy()
    fold = dict(zip(paying["tenant_id"], propensity.group_folds(
        groups, propensity.FOLDS, seed), strict=True))
    p = _oof(labelled, rows, labelled["tenant_id"].map(fold).to_numpy(),
             rows["tenant_id"].map(fold).to_numpy(),
             _fitter(lambda: _classifier(params), _x))
    p = np.where(np.isnan(p), float(labelled[LABEL].astype(int).mean()), p)
    months = BACKTEST_DAYS / 30.0
    predicted = ltv(rows["mrr"], p, horizon, months=int(months))
    realised = rows[REVENUE].to_numpy(dtype=float)
    naive = rows["mrr"].to_numpy(dtype=float) * months

    def errors(pred: np.ndarray) -> dict:
        positive = realised > 0
        return {
            "mape": round(float(np.mean(np.abs(pred[positive] - realised[positive])
                                        / realised[positive])), 4) if positive.any() else None,
            "ratio_predicted_to_realised": round(float(pred.sum() / realised.sum()), 4)
            if realised.sum() else None}

    return {"rows": len(rows), "tenants": int(rows["tenant_id"].nunique()),
            "days": BACKTEST_DAYS, "predicted_total": round(float(predicted.sum()), 2),
            "realised_total": round(float(realised.sum()), 2),
            "model": errors(predicted), "mrr_stays_flat": errors(naive)}


def train(as_of: date | None = None, seed: int = DEFAULT_SEED, params: dict | None = None,
          register: bool = True, min_lower_bound: float = 0.0) -> dict:
    """Validate, gate, refit on every labelled row, check the upgrade propensity,
    backtest LTV, save and register. Returns the registry row's content."""
    migrate.apply(log=log.info)
    params = {**DEFAULT_PARAMS, **(params or {})}
    frame = snapshots(through=as_of)
    if frame.empty:
        raise NotEnoughHistory(f"{SNAPSHOTS} has no rows: load some days and run dbt")
    through = frame["snapshot_date"].max()
    horizon = int(frame["horizon_days"].iloc[0])
    paying = frame.loc[frame["is_paying_customer"]].reset_index(drop=True)
    # as of `through`, an outcome is known only when its window closed by then (the
    # warehouse may hold later days: a training as of an earlier night must not see them)
    closed = paying["snapshot_date"] + timedelta(days=horizon) <= through
    paying[LABEL] = paying[LABEL].where(closed)
    paying[UPGRADE_LABEL] = paying[UPGRADE_LABEL].where(closed)
    paying[REVENUE] = paying[REVENUE].where(
        paying["snapshot_date"] + timedelta(days=BACKTEST_DAYS) <= through)
    labelled = paying.loc[paying[LABEL].notna()].reset_index(drop=True)
    if labelled[LABEL].nunique() < 2:
        raise NotEnoughHistory(
            f"{len(labelled)} labelled paying-tenant rows through {through}, not of both "
            f"classes: tenant labels need {horizon} days after a snapshot; load more days")
    y = labelled[LABEL].astype(int).to_numpy()

    evaluation, ranges = _validate(labelled, frame["snapshot_date"].min(), horizon,
                                   params, seed)
    if evaluation is None:
        promoted, reason = False, f"rejected: not validated: {ranges.pop('reason')}"
    else:
        promoted, reason = E.promote(evaluation, min_lower_bound=min_lower_bound)
    # after selection, the refit on every labelled row up to the training day
    churn = _classifier(params).fit(_x(labelled), y)
    rule = _calibrator().fit(_rule_x(labelled), y)
    upgrade_rows = paying.loc[paying[UPGRADE_LABEL].notna()].reset_index(drop=True)
    upgrade_y = upgrade_rows[UPGRADE_LABEL].astype(int).to_numpy()
    upgrade_check = propensity.check(
        _x(upgrade_rows), upgrade_y, upgrade_rows["tenant_id"].to_numpy(),
        lambda x, yy: _classifier(params).fit(x, yy), seed=seed)
    upgrade = (_classifier(params).fit(_x(upgrade_rows), upgrade_y)
               if upgrade_check["written"] else None)
    model = TenantModel(FEATURES, horizon, churn, rule, upgrade)
    figures = {
        "kind": "tenant_churn", "horizon_days": horizon, "status":
        "promoted" if promoted else "rejected", "reason": reason,
        "evaluation": evaluation,
        "training": {"rows": len(labelled), "tenants": int(labelled["tenant_id"].nunique()),
                     "base_rate": round(float(y.mean()), 4)},
        "propensities": {"upgrade": upgrade_check},
        "ltv_backtest": _ltv_backtest(paying, horizon, params, seed),
    }
    result = {"data_through": through.isoformat(), "ranges": ranges,
              "params": {**params, "seed": seed}, "features": list(FEATURES),
              "metrics": figures, "status": figures["status"], "reason": reason}
    if register:
        version, path, sha = registry.save_artifact(model, through, prefix="tenant")
        _register(version, path, sha, through, result, promoted)
        result.update(model_version=version, artifact_path=str(path), artifact_sha256=sha)
    log.info("tenant model: %s", reason)
    return result


def _register(version: str, path: Path, sha: str, through: date, result: dict,
              promoted: bool) -> None:
    """Insert (or refresh) the row; a promoted model becomes the one current model."""
    with warehouse.transaction() as conn, conn.cursor() as cur:
        if promoted:
            cur.execute("update ml.tenant_model_registry set is_current = false "
                        "where is_current and model_version <> %s", (version,))
        cur.execute(
            """insert into ml.tenant_model_registry (model_version, data_through, status,
                   reason, ranges, params, features, metrics, artifact_path,
                   artifact_sha256, is_current)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               on conflict (model_version) do update set trained_at = now(),
                   status = excluded.status, reason = excluded.reason,
                   metrics = excluded.metrics, is_current = excluded.is_current""",
            (version, through, result["status"], result["reason"],
             json.dumps(result["ranges"]), json.dumps(result["params"]),
             json.dumps(result["features"]), json.dumps(result["metrics"]),
             registry._relative(path), sha, promoted))


def serving(day: date) -> tuple[str, TenantModel, bool] | None:
    """(version written with the scores, artifact, use the model?) for scoring `day`:
    the current promoted model trained with data through `day` or earlier; otherwise the
    calibrated rule score of the newest such training, as `rule-baseline`."""
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(
            """select model_version, artifact_path, artifact_sha256, data_through,
                      status = 'promoted'
               from ml.tenant_model_registry where data_through <= %s
               order by (status = 'promoted') desc, data_through desc, trained_at desc
               limit 1""", (day,))
        row = cur.fetchone()
    if row is None:
        return None
    version, path, sha, through, promoted = row
    model = registry.load_artifact(version, registry.artifact_file(path), sha, through)
    return (version if promoted else RULE_BASELINE), model, bool(promoted)


def any_training() -> bool:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("select exists (select 1 from ml.tenant_model_registry)")
        return bool(cur.fetchone()[0])


def report() -> list[dict]:
    """Every tenant training, newest first, for `pulse ml report`."""
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(
            """select model_version, trained_at, data_through, status, reason, is_current,
                      metrics from ml.tenant_model_registry
               order by data_through desc, trained_at desc""")
        keys = [c.name for c in cur.description]
        return [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]


def report_entry(row: dict) -> dict:
    """A tenant training as an entry of `pulse ml report --json` (keys shared with the
    user model's entry where they mean the same; the tenant's figures under `metrics`)."""
    m = row["metrics"]
    serving = (row["model_version"] if row["is_current"] else None)
    if serving is None:
        with warehouse.connection() as conn, conn.cursor() as cur:
            cur.execute("select model_version from ml.tenant_model_registry where is_current")
            current = cur.fetchone()
        serving = current[0] if current else RULE_BASELINE
    return {"model_kind": "tenant_churn", "model_version": row["model_version"],
            "status": row["status"], "reason": row["reason"], "is_current": row["is_current"],
            "serving": serving, "data_through": row["data_through"].isoformat(),
            "trained_at": row["trained_at"].isoformat(), "validation": m.get("evaluation"),
            "propensities": m.get("propensities"), "ltv_backtest": m.get("ltv_backtest"),
            "metrics": m}


def describe(version: str, m: dict) -> str:
    """A tenant training's figures as text (`pulse ml tenants report`)."""
    lines = [f"tenant model {version}: {m['status']} ({m['horizon_days']}-day horizon)",
             f"  {m['reason']}"]
    ev = m.get("evaluation")
    if ev:
        lines.append(f"  validation: {ev['rows']} rows, {ev['groups']} tenants, churn rate "
                     f"{ev['base_rate']:.1%}; ROC AUC [95% CI, tenants resampled]:")
        for name, f in ev["scorers"].items():
            ci = f["roc_auc_ci"] or [float("nan")] * 2
            brier = ev["calibration"][name]["brier"]
            lines.append(f"    {name:14} {f['roc_auc']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]  "
                         f"PR AUC {f['pr_auc']:.3f}  Brier {brier:.3f}")
    up = m["propensities"]["upgrade"]
    lines.append(f"  upgrade propensity: {'written' if up['written'] else 'not written'} "
                 f"({up['reason']}; {up['positives']} positives of {up['rows']}"
                 + (f", ROC AUC {up['roc_auc']:.3f}, Brier {up['brier']:.4f} vs base "
                    f"{up['base_rate_brier']:.4f}" if "roc_auc" in up else "") + ")")
    bt = m["ltv_backtest"]
    if "model" in bt:
        lines.append(f"  LTV backtest ({bt['days']} days, {bt['rows']} rows, {bt['tenants']} "
                     f"tenants): predicted/realised {bt['model']['ratio_predicted_to_realised']}"
                     f", MAPE {bt['model']['mape']}; MRR held flat: ratio "
                     f"{bt['mrr_stays_flat']['ratio_predicted_to_realised']}, MAPE "
                     f"{bt['mrr_stays_flat']['mape']}")
    else:
        lines.append(f"  LTV backtest: {bt['reason']}")
    return "\n".join(lines)
