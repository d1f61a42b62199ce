"""Consent that acts outside dbt: an ML-predictions withdrawal deletes the user's scores.

Scoring already skips users without ML consent on the scored day
(marts.ml_user_consent_periods); this removes the scores written before the withdrawal,
every night after dbt, so a withdrawal that arrived late (even after the late-event
lookback) is applied too. The analytics_tracking flag is applied in dbt
(macros/privacy.sql), marketing_attribution in marts.acquisition_channels.
"""

from __future__ import annotations

from collections.abc import Callable

from pulse.warehouse import transaction


def apply_ml_consent(log: Callable[[str], None] = print) -> int:
    """Delete ml.ml_features rows scored before the end of any ML-consent withdrawal."""
    with transaction() as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('marts.ml_user_consent_periods') is not null"
                    " and to_regclass('ml.ml_features') is not null")
        if not cur.fetchone()[0]:
            return 0
        cur.execute(
            """
            delete from ml.ml_features as f
            using marts.ml_user_consent_periods as p
            where p.tenant_id = f.tenant_id
              and p.user_id = f.user_id
              and not p.consent_ml_predictions
              and f.scored_at < coalesce(p.valid_to, 'infinity'::date)
            """
        )
        n = cur.rowcount
    if n:
        log(f"ML consent withdrawn: {n} score row(s) deleted from ml.ml_features")
    return n
