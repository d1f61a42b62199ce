"""An independent, plain-Python reading of the landing files, for tests to compare the
warehouse against. Deliberately written from the definitions, not from Pulse's code."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REQUIRED = ("event_id", "tenant_id", "user_id", "event_name", "event_version", "timestamp")


def _files(landing: Path, kind: str, through: date | None):
    for path in sorted((landing / kind).glob("dt=*/*.ndjson.gz")):
        day = date.fromisoformat(path.parent.name[3:])
        if through is None or day <= through:
            yield path


def known_tenants(landing: Path, through: date | None = None) -> set[str]:
    tenants = set()
    for path in _files(landing, "accounts", through):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            tenants.update(json.loads(line)["tenant_id"] for line in fh)
    return tenants


def _valid(obj, tenants: set[str]) -> bool:
    if not isinstance(obj, dict):
        return False
    if any(not isinstance(obj.get(k), str) for k in REQUIRED):
        return False
    if obj["event_version"].split(".")[0] not in ("1", "2"):
        return False
    for key in ("properties", "context", "user_properties", "attribution"):
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            return False
    try:
        ts = datetime.fromisoformat(obj["timestamp"])
    except ValueError:
        return False
    return ts.tzinfo is not None and obj["tenant_id"] in tenants


def events(landing: Path, through: date | None = None) -> dict[str, dict]:
    """event_id -> the earliest received valid copy, over files up to `through`."""
    tenants = known_tenants(landing, through)
    best: dict[str, dict] = {}
    for path in _files(landing, "events", through):
        with gzip.open(path, "rb") as fh:
            for raw in fh:
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                if not _valid(obj, tenants):
                    continue
                seen = best.get(obj["event_id"])
                if seen is None or obj["received_at"] < seen["received_at"]:
                    best[obj["event_id"]] = obj
    return best


def active_event_names() -> set[str]:
    with open(REPO / "dbt_project/seeds/event_catalog.csv", newline="") as fh:
        return {r["event_name"] for r in csv.DictReader(fh) if r["counts_as_active"] == "true"}


def event_day(obj: dict) -> date:
    """The UTC date of the event's own timestamp."""
    return datetime.fromisoformat(obj["timestamp"]).astimezone(UTC).date()


def daily_active_users(evts: dict[str, dict]) -> dict[tuple[str, date], int]:
    active = active_event_names()
    users: dict[tuple[str, date], set[str]] = defaultdict(set)
    for obj in evts.values():
        if obj["event_name"] in active:
            users[(obj["tenant_id"], event_day(obj))].add(obj["user_id"])
    return {key: len(v) for key, v in users.items()}
