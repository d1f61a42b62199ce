"""Monthly partitions of raw.events (docs/loading.md, "Partitions").

The loader creates the months a run's event files will need before it copies anything:
a file of day D holds events of D's month, and late or early ones of the months around
it. A row outside every monthly partition is still kept, in raw.events_default; the DDL
is in sql/migrations/0011_events_partitioned.sql.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date


def month_start(day: date) -> date:
    return day.replace(day=1)


def _shift(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_for(days: Iterable[date]) -> list[date]:
    """The months the event files of these partition days may fill, oldest first."""
    months: set[date] = set()
    for day in days:
        month = month_start(day)
        months.update((_shift(month, -1), month, _shift(month, 1)))
    return sorted(months)


def ensure_for(cur, days: Iterable[date]) -> int:
    """Create the missing monthly partitions for files of these days; how many were new.
    Each month is its own short transaction when `cur` is in autocommit."""
    created = 0
    for month in months_for(days):
        cur.execute("select raw.ensure_events_partition(%s)", (month,))
        created += bool(cur.fetchone()[0])
    return created
