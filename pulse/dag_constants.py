"""What the three DAGs share: their ids, schedules, start date, default task arguments
and the Assets one publishes and the others wait on.

Free of Airflow imports at module level, so the CLI and the demo can name a DAG without
loading Airflow; the Asset objects are built on first use (`RAW`, `MARTS`), by the DAG
files only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

NIGHTLY_DAG_ID = "pulse_nightly"
TRAIN_DAG_ID = "pulse_train"
DELIVERY_DAG_ID = "pulse_delivery"

# 02:00 UTC for the day before (a cron data interval: docs in dags/pulse_nightly.py).
NIGHTLY_CRON = "0 2 * * *"
# Weekly, Monday 04:00 UTC: after the nightly run (02:00) has loaded Sunday.
TRAIN_CRON = "0 4 * * 1"
# pulse_delivery's retries: every five minutes, besides each publication of the marts.
DELIVERY_RETRY_CRON = "*/5 * * * *"

# Landing files begin here; catch-up runs start from it. Matches the generator's default.
START_DATE = datetime(2026, 1, 1)

# Asset URIs: one per layer a consumer can wait on. A custom scheme because the
# warehouse's host differs between a laptop, CI and production.
RAW_ASSET_URI = "pulse://warehouse/raw"
MARTS_ASSET_URI = "pulse://warehouse/marts"

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "pulse",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}

_ASSET_URIS = {"RAW": RAW_ASSET_URI, "MARTS": MARTS_ASSET_URI}


def __getattr__(name: str) -> Any:
    """`RAW` and `MARTS` as airflow.sdk Assets, imported only when a DAG file asks."""
    if name in _ASSET_URIS:
        from airflow.sdk import Asset

        asset = Asset(_ASSET_URIS[name])
        globals()[name] = asset
        return asset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
