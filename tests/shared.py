"""The session's shared built warehouse: one data set, generated, loaded and dbt-built once
in its own database, for the test modules that only read a built warehouse.

A module that reads it asks for the `built_warehouse` fixture (tests/conftest.py), which
points the test (its queries, its `pulse` subprocesses, in-process GX) at that database,
its landing files and its data folder, and back afterwards. A test that changes the
warehouse does not belong here: it builds its own (`clean_warehouse`).

The data set is the demo's shape, smaller: 75 days (three cohort months, the last one in
progress) of 5 tenants, with 2% dirty lines (duplicates, late arrivals, faults). Two extra
lines are planted on PLANT_DAY for tests/test_catalog_unknowns.py: a `feature.used` with a
feature the catalog does not list, and an event name it does not list. Both copy a real
event of an already active user on that day, so no activity or retention figure moves
(tests/test_metrics_reference.py compares those with its plain-Python reading).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import orjson

from generators import generate
from tests import reference

SEED = 23
TENANTS = 5
USERS = 300
START = date(2026, 1, 1)
DAYS = 75
LAST_DAY = START + timedelta(days=DAYS - 1)  # 2026-03-16
DIRTY = 0.02

# The last day: the star suite checks a night's event days against the loaded range.
PLANT_DAY = LAST_DAY
TYPO_FEATURE = "dashbaords"
NEW_EVENT = "report.exportd"
PLANTED_FILE = "planted.ndjson.gz"


@dataclass(frozen=True)
class Built:
    database: str
    landing: Path
    data_dir: Path
    planted_tenant: str

    def env(self) -> dict[str, str]:
        """The variables that point `pulse`, dbt and GX at this warehouse."""
        return {"PULSE_WAREHOUSE_DB": self.database, "PULSE_LANDING_DIR": str(self.landing),
                "PULSE_DATA_DIR": str(self.data_dir)}


def plant(landing: Path) -> str:
    """The two uncatalogued lines beside PLANT_DAY's real events. Returns their tenant.

    The template is a `feature.used` event that counts (valid, its earliest copy, not too
    late, by tests/reference.py's reading): the data set's dirty lines are no template."""
    counted = reference.counted(reference.events(landing, through=PLANT_DAY))
    template = min((e for e in counted.values() if e.get("event_name") == "feature.used"
                    and reference.event_day(e) == PLANT_DAY
                    and e["received_at"].startswith(PLANT_DAY.isoformat())),
                   key=lambda e: e["event_id"])
    typo = {**template, "event_id": "planted-typo-feature",
            "properties": {**(template.get("properties") or {}), "feature_name": TYPO_FEATURE}}
    unknown = {**template, "event_id": "planted-unknown-name", "event_name": NEW_EVENT}
    folder = landing / "events" / f"dt={PLANT_DAY.isoformat()}"
    with gzip.open(folder / PLANTED_FILE, "wb") as fh:
        fh.write(orjson.dumps(typo) + b"\n" + orjson.dumps(unknown) + b"\n")
    return template["tenant_id"]


def generate_landing(landing: Path) -> str:
    """The data set's landing files, planted lines included. Returns the planted tenant."""
    generate(landing, seed=SEED, tenants=TENANTS, users=USERS, days=DAYS, start=START,
             dirty=DIRTY)
    return plant(landing)
