"""What one gate run checks: the night's day, its landing batches, the dates the raw
suite's placeholders are filled with, and, for suites over event-grain models, the rows
written since the suite last passed (docs/incremental.md, "The gate's star suite")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pulse import warehouse
from pulse.quality.suites import SuiteError

STALE_BOUND_DAYS = 30  # expectations/raw.yml: events older than this on arrival are stale
EVERY_ROW = "'-infinity'::timestamptz"


@dataclass(frozen=True)
class Scope:
    """What a gate run checks: the night's day, for the raw suite the batches, and for
    each suite the time its last passing run started (rows written since are unchecked)."""

    day: date
    batches: tuple[int, ...]
    first_day: date
    # The warehouse's clock when this run started, less any transaction still open then:
    # a row committed later carries a later _updated_at, so the next run checks it.
    checked_as_of: datetime | None = None
    last_passed: dict[str, datetime] = field(default_factory=dict)  # suite -> checked_as_of

    def written_since(self, suite: str) -> str:
        """The `$written_since` literal: every row on a suite's first run, or a run over
        the whole history; otherwise rows written since its last passing run."""
        since = self.last_passed.get(suite)
        return f"'{since.isoformat()}'::timestamptz" if since else EVERY_ROW

    def params(self, suite: str = "") -> dict[str, Any]:
        return {
            "day": self.day,
            "scope_batches": list(self.batches) or [0],  # [0]: no batch, an empty scope
            "min_event_date": self.first_day - timedelta(days=STALE_BOUND_DAYS),
            "max_event_date": self.day + timedelta(days=1),
            "written_since": self.written_since(suite),
        }

    def to_json(self, suite: str = "") -> dict[str, Any]:
        since = self.last_passed.get(suite)
        return {"day": self.day.isoformat(), "first_day": self.first_day.isoformat(),
                "batches": len(self.batches),
                "batch_range": [min(self.batches), max(self.batches)] if self.batches else None,
                "checked_as_of": self.checked_as_of.isoformat() if self.checked_as_of else None,
                "written_since": since.isoformat() if since else None}


def scope_for(day: date, loaded_batches: Iterable[int] = (), whole_history: bool = False,
              ) -> Scope:
    """The batches this run loaded plus every batch of the day's landing partition, so a
    re-run that loads nothing checks the same night again; and when each suite last
    passed, unless `whole_history` asks for every row."""
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute("select coalesce(array_agg(batch_id), '{}'), min(partition_date) "
                    "from raw.load_ledger where partition_date = %s", (day,))
        of_day, _ = cur.fetchone()
        cur.execute("select min(partition_date) from raw.load_ledger")
        first_day = cur.fetchone()[0] or day
        # Open transactions of other clients this role can see (dbt's, when it runs as
        # the gate's role): rows they commit after this carry their start as _updated_at.
        # Clients only: an autovacuum of raw.events can hold a transaction for minutes,
        # and taken as the mark it made the next night check the whole month again.
        cur.execute("select least(now(), min(xact_start)) from pg_stat_activity"
                    " where datname = current_database() and pid <> pg_backend_pid()"
                    "   and backend_type = 'client backend' and xact_start is not null")
        checked_as_of = cur.fetchone()[0]
        last_passed: dict[str, datetime] = {}
        if not whole_history:
            cur.execute("select suite, max((scope ->> 'checked_as_of')::timestamptz)"
                        " from quality.gate_runs where success and scope ? 'checked_as_of'"
                        " group by suite having max(scope ->> 'checked_as_of') is not null")
            last_passed = dict(cur.fetchall())
    return Scope(day, tuple(sorted(set(of_day) | set(loaded_batches))), first_day,
                 checked_as_of, last_passed)


def last_landing_day() -> date:
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute("select max(partition_date) from raw.load_ledger where status = 'loaded'")
        day = cur.fetchone()[0]
    if day is None:
        raise SuiteError("nothing is loaded yet: run `pulse load` first, or pass --day")
    return day
