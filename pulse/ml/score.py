"""Scoring a day: ml.ml_features for every consenting user, in one transaction.

`score_day` is what the nightly DAG's `score_users` task calls, after the quality gate.
"""

from __future__ import annotations

import json
import logging
from datetime import date

import numpy as np
import pandas as pd
from psycopg2.extras import execute_values

from pulse import migrate, warehouse
from pulse.ml import features as F
from pulse.ml import registry
from pulse.ml.model import INACTIVE, PulseModel, ltv, risk_band

log = logging.getLogger(__name__)


def predict(model: PulseModel, frame: pd.DataFrame, unused: pd.DataFrame) -> pd.DataFrame:
    """The ml_features rows (without model_version) for the snapshot rows in `frame`.

    Only the population the model was trained on is scored: users active in the 30 days
    up to the day. The others get risk band 'inactive', no probability, no propensities
    and no LTV share (docs/scoring.md). Top factors, one prediction per feature, are
    computed for medium and high risk only: nobody acts on a low score's reasons."""
    active = frame["is_active_customer"].fillna(False).to_numpy(dtype=bool)
    scored = frame.loc[active].reset_index(drop=True)
    p = np.round(model.churn_probability(scored), 6)
    bands = [risk_band(v) for v in p]
    factors: list[list[dict]] = [[] for _ in range(len(scored))]
    worth = np.flatnonzero([b != "low" for b in bands])
    if len(worth):
        explained = model.top_factors(scored.iloc[worth].reset_index(drop=True), p[worth])
        for i, f in zip(worth, explained, strict=True):
            factors[i] = f
    out = pd.DataFrame({
        "tenant_id": frame["tenant_id"].to_numpy(),
        "user_id": frame["user_id"].to_numpy(),
        "scored_at": frame["snapshot_date"].to_numpy(),
        "churn_probability": None,
        "ltv_prediction": 0.0,
        "propensity_scores": [{} for _ in range(len(frame))],
        "risk_band": INACTIVE,
        "top_factors": [[] for _ in range(len(frame))],
    })
    rows = np.flatnonzero(active)
    out["churn_probability"] = out["churn_probability"].astype(object)
    out.loc[rows, "churn_probability"] = list(p)
    out.loc[rows, "ltv_prediction"] = ltv(scored, p)
    out.loc[rows, "risk_band"] = bands
    out["propensity_scores"] = _place(out["propensity_scores"], rows,
                                      model.propensities(scored, unused))
    out["top_factors"] = _place(out["top_factors"], rows, factors)
    return out


def _place(column: pd.Series, rows: np.ndarray, values: list) -> list:
    placed = list(column)
    for i, v in zip(rows, values, strict=True):
        placed[i] = v
    return placed


def _write(day: date, version: str, rows: pd.DataFrame) -> None:
    """Replace the day's rows: delete and insert in one transaction, so a day scored
    twice holds the second run's rows only, and a reader never sees half a day."""
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute("delete from ml.ml_features where scored_at = %s", (day,))
        execute_values(
            cur,
            """insert into ml.ml_features (tenant_id, user_id, scored_at, model_version,
                   churn_probability, ltv_prediction, propensity_scores, risk_band,
                   top_factors) values %s""",
            [(r.tenant_id, r.user_id, day, version,
              None if r.churn_probability is None else float(r.churn_probability),
              float(r.ltv_prediction), json.dumps(r.propensity_scores, sort_keys=True),
              r.risk_band, json.dumps(r.top_factors))
             for r in rows.itertuples(index=False)],
            page_size=5000,
        )


def _skipped(day: date, reason: str) -> dict:
    log.warning("no scores for %s: %s", day, reason)
    return {"status": "skipped", "day": day.isoformat(), "reason": reason, "users_scored": 0}


def score_day(day: date, model_version: str | None = None) -> dict:
    """Score every consenting user on `day` and write ml.ml_features for that day.

    The model: `model_version` if given; otherwise the one that was current on `day`
    (the newest trained with data through `day` or earlier), so a backfilled day is
    scored as its night would have been. When no model exists (training is the pulse_train
    DAG's), or models exist but none was current on `day`, the day is skipped with the
    reason in the result and the log, and nothing is written.
    """
    migrate.apply(log=log.info)
    first_day, last_day = F.loaded_range()
    if not first_day <= day <= last_day:
        raise ValueError(f"{day} is not loaded (snapshots cover {first_day} to {last_day}): "
                         "load it and run dbt first, or pick a loaded day")
    version = model_version or registry.current_on(day)
    if version is None:
        if registry.any_model():
            return _skipped(day, (
                f"no model was current on {day} (the first was trained with data through "
                f"{registry.first_data_through()}); score it with a named model: "
                f"`pulse ml score --day {day} --model-version VERSION`"))
        # Training is the pulse_train DAG's: it runs when this night's marts are
        # published and no model exists, weekly, or when triggered.
        return _skipped(day, (
            "no model exists yet: the pulse_train DAG trains one once tonight's marts are "
            f"published (or run `pulse ml train`), then `pulse ml score --day {day}`"))
    model = registry.load(version)

    frame = F.snapshots([day])
    consenting = frame.loc[frame["consent_ml_predictions"]].reset_index(drop=True)
    unused = F.adoption([day])
    rows = predict(model, consenting, unused)
    _write(day, version, rows)
    result = {
        "status": "scored",
        "day": day.isoformat(),
        "model_version": version,
        "users_scored": int((rows["risk_band"] != INACTIVE).sum()),
        "users_inactive": int((rows["risk_band"] == INACTIVE).sum()),
        "users_without_consent": int(len(frame) - len(consenting)),
        "risk_bands": {k: int(v) for k, v in rows["risk_band"].value_counts().items()},
    }
    log.info("scored %s: %s", day, result)
    return result
