"""What one gate run checks: the night's day, its landing batches, and the dates the
raw suite's placeholders are filled with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pulse import warehouse
from pulse.quality.suites import SuiteError

STALE_BOUND_DAYS = 30  # expectations/raw.yml: events older than this on arrival are stale


@dataclass(frozen=True)
class Scope:
    """What a gate run checks: the night's day and, for the raw suite, the batches."""

    day: date
    batches: tuple[int, ...]
    first_day: date

    def params(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "scope_batches": list(self.batches) or [0],  # [0]: no batch, an empty scope
            "min_event_date": self.first_day - timedelta(days=STALE_BOUND_DAYS),
            "max_event_date": self.day + timedelta(days=1),
        }

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "first_day": self.first_day.isoformat(),
                "batches": len(self.batches),
                "batch_range": [min(self.batches), max(self.batches)] if self.batches else None}


def scope_for(day: date, loaded_batches: Iterable[int] = ()) -> Scope:
    """The batches this run loaded plus every batch of the day's landing partition, so a
    re-run that loads nothing checks the same night again."""
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute("select coalesce(array_agg(batch_id), '{}'), min(partition_date) "
                    "from raw.load_ledger where partition_date = %s", (day,))
        of_day, _ = cur.fetchone()
        cur.execute("select min(partition_date) from raw.load_ledger")
        first_day = cur.fetchone()[0] or day
    return Scope(day, tuple(sorted(set(of_day) | set(loaded_batches))), first_day)


def last_landing_day() -> date:
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute("select max(partition_date) from raw.load_ledger where status = 'loaded'")
        day = cur.fetchone()[0]
    if day is None:
        raise SuiteError("nothing is loaded yet: run `pulse load` first, or pass --day")
    return day
