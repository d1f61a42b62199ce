"""Scoring a day's paying tenants into ml.tenant_scores (docs/scoring.md "Tenant churn").

The nightly DAG's `score_tenants` task calls `score_day` after the users are scored.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
from psycopg2.extras import execute_values

from pulse import migrate, warehouse
from pulse.ml import tenant as T
from pulse.ml.model import risk_band

log = logging.getLogger(__name__)


def score_day(day: date) -> dict:
    """Score every paying tenant on `day`: the current promoted tenant model, or the
    calibrated rule score (`rule-baseline`) when no model passed the gate. The day's rows
    are replaced in one transaction. No training yet: skipped, with the reason."""
    migrate.apply(log=log.info)
    served = T.serving(day)
    if served is None:
        reason = ("no tenant model trained with data through this day: the pulse_train DAG "
                  "trains one (or run `pulse ml train`)")
        log.warning("no tenant scores for %s: %s", day, reason)
        return {"status": "skipped", "day": day.isoformat(), "reason": reason,
                "tenants_scored": 0}
    version, model, use_model = served
    frame = T.snapshots(day=day)
    frame = frame.loc[frame["is_paying_customer"]].reset_index(drop=True)
    p = model.churn_probability(frame, use_model)
    upgrade = model.upgrade_propensity(frame)
    value = T.ltv(frame["mrr"], p, model.horizon_days)
    rows = [(t, day, version, round(float(pi), 6), risk_band(float(pi)), model.horizon_days,
             None if upgrade is None else round(float(upgrade[i]), 6),
             float(np.nan_to_num(m)), float(v))
            for i, (t, pi, m, v) in enumerate(zip(frame["tenant_id"], p, frame["mrr"], value,
                                                  strict=True))]
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute("delete from ml.tenant_scores where scored_at = %s", (day,))
        execute_values(
            cur,
            """insert into ml.tenant_scores (tenant_id, scored_at, model_version,
                   churn_probability, risk_band, horizon_days, upgrade_propensity, mrr,
                   ltv_prediction) values %s""", rows)
    result = {"status": "scored", "day": day.isoformat(), "model_version": version,
              "tenants_scored": len(rows),
              "risk_bands": {b: sum(1 for r in rows if r[4] == b)
                             for b in ("low", "medium", "high")}}
    log.info("tenant scores %s: %s", day, result)
    return result
