"""Reading the point-in-time snapshots dbt computes (marts.ml_user_feature_snapshots).

No transformation happens here: the features, labels and the rule-based score are
columns of the dbt views; this module selects days and hands pandas frames to the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd
import psycopg2.errors
import psycopg2.extensions

from pulse import warehouse
from pulse.config import settings

SNAPSHOTS = "marts.ml_user_feature_snapshots"
CONSENT_PERIODS = "marts.ml_user_consent_periods"
ADOPTION = "marts.ml_feature_adoption_snapshots"
KEYS = ("tenant_id", "user_id", "snapshot_date")


def horizon_days() -> int:
    """The label window, dbt var `churn_horizon_days`: one definition for the dbt views
    and the Python that purges and validates around them (docs/scoring.md)."""
    import yaml

    project = yaml.safe_load((settings().dbt_project_dir / "dbt_project.yml").read_text())
    return int(project["vars"]["churn_horizon_days"])


HORIZON_DAYS = horizon_days()
CHURN_LABEL = "churned_next_30d"
UPGRADE_LABEL = "upgraded_next_30d"
ADOPTION_LABEL = "adopted_next_30d"
RULE_SCORE = "rule_health_score"

# The model's inputs, in the order the artifact expects them.
FEATURES: tuple[str, ...] = (
    "days_since_active",
    "active_days_last_7",
    "active_days_last_14",
    "active_days_prior_14",
    "activity_trend",
    "active_days_last_30",
    "active_days_to_date",
    "events_last_7",
    "events_last_30",
    "feature_uses_last_30",
    "sessions_last_7",
    "sessions_last_30",
    "avg_session_minutes_last_30",
    "features_used_last_30",
    "features_used_to_date",
    "tenure_days",
    "is_activated",
    "tenant_plan_rank",
    "tenant_licensed_seats",
    "tenant_mau",
    "tenant_seat_utilization",
    "tenant_active_user_days_last_14",
    "tenant_active_user_days_prior_14",
    "tenant_activity_trend",
)


class MissingSnapshots(RuntimeError):
    """The dbt views are not there, or the day asked for is not loaded."""


def _frame(sql: str, params: tuple) -> pd.DataFrame:
    with warehouse.transaction() as conn:
        # numeric columns as floats: the models want floats, not Decimals
        psycopg2.extensions.register_type(psycopg2.extensions.new_type(
            psycopg2.extensions.DECIMAL.values, "DEC2FLOAT",
            lambda v, _c: float(v) if v is not None else None), conn)
        with conn.cursor() as cur:
            try:
                cur.execute(sql, params)
            except psycopg2.errors.UndefinedTable as exc:
                raise MissingSnapshots(
                    f"{exc.pgerror.strip()}: build the ML views first "
                    "(`pulse dbt build`, or the nightly DAG's dbt step)") from exc
            columns = [c.name for c in cur.description]
            return pd.DataFrame.from_records(cur.fetchall(), columns=columns)


def loaded_range() -> tuple[date, date]:
    """First and last day with snapshots (the last loaded day)."""
    frame = _frame(f"select min(snapshot_date), max(snapshot_date) from {SNAPSHOTS}", ())
    first, last = frame.iloc[0, 0], frame.iloc[0, 1]
    if first is None:
        raise MissingSnapshots(f"{SNAPSHOTS} is empty: load some landing files and run dbt")
    return first, last


def days_between(start: date, end: date, step: int = 1) -> list[date]:
    return [start + timedelta(days=i) for i in range(0, (end - start).days + 1, step)]


def snapshots(days: Sequence[date]) -> pd.DataFrame:
    """Every user's snapshot on the given days, in a stable order."""
    frame = _frame(
        f"select * from {SNAPSHOTS} where snapshot_date = any(%s::date[]) "
        "order by snapshot_date, tenant_id, user_id",
        (list(days),),
    )
    return _typed(frame)


def ml_consent_withdrawn() -> pd.MultiIndex:
    """(tenant_id, user_id) of users whose current choice withdraws ML consent: none of
    their snapshots, even those from before the withdrawal, is trained on
    (docs/privacy.md "Consent")."""
    frame = _frame(
        f"select tenant_id, user_id from {CONSENT_PERIODS}"
        " where valid_to is null and not consent_ml_predictions order by 1, 2", ())
    return pd.MultiIndex.from_frame(frame, names=["tenant_id", "user_id"])


def adoption(days: Sequence[date]) -> pd.DataFrame:
    """(user, day, core feature not used yet) rows with their adoption label."""
    return _frame(
        f"select * from {ADOPTION} where snapshot_date = any(%s::date[]) "
        "order by snapshot_date, tenant_id, user_id, feature_name",
        (list(days),),
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for col in FEATURES:
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="raise").astype("float64")
    return frame


def matrix(frame: pd.DataFrame, features: Sequence[str] = FEATURES):
    """The model input: the features in the artifact's order, missing values as NaN
    (the gradient-boosted trees route them on their own)."""
    return frame.loc[:, list(features)].to_numpy(dtype="float64", na_value=float("nan"))
