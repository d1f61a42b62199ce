"""Retention (seed classes as settings): the nightly purge of data past its keeping period.

Each class has a period in days (an environment variable, default below) and the tables
it governs, each with the column that dates a row. The purge counts back from `as_of`
(the night's data day in the DAG, today on the command line), removes older rows (a
partitioned table's wholly expired months by dropping their partitions) and
writes one privacy.purge_log row per table, zeros included, so the log shows that a
class was applied. Tables rebuilt by dbt from these (analyst marts) follow on the next
build. See docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from psycopg2 import sql

from pulse.config import _env
from pulse.warehouse import transaction


@dataclass(frozen=True)
class RetentionClass:
    name: str
    env_var: str
    default_days: int
    # (schema, table, dating column); rows of a missing table are nothing to purge
    tables: tuple[tuple[str, str, str], ...]

    def days(self) -> int:
        raw = _env(self.env_var)
        if raw is None:
            return self.default_days
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if value < 1:
            raise ValueError(f"{self.env_var} must be a whole number of days >= 1, got {raw!r}")
        return value


CLASSES: tuple[RetentionClass, ...] = (
    RetentionClass("user_events", "PULSE_RETENTION_USER_EVENTS_DAYS", 730, (
        ("raw", "events", "event_ts"),
        ("staging", "stg_pulse__events", "event_at"),
        ("marts", "fct_events", "event_at"),
        ("intermediate", "int_user_feature_days", "activity_date"),
        ("intermediate", "int_sessions_client", "started_at"),
        ("intermediate", "int_sessions_inferred", "started_at"),
        ("marts", "fct_daily_user_activity", "activity_date"),
    )),
    RetentionClass("analytics", "PULSE_RETENTION_ANALYTICS_DAYS", 2555, (
        ("marts", "fct_daily_tenant_activity", "activity_date"),
    )),
    RetentionClass("webhook_logs", "PULSE_RETENTION_WEBHOOK_LOG_DAYS", 90, (
        ("delivery", "attempts", "attempted_at"),
        ("delivery", "messages", "announced_on"),  # its outbox rows go with it
    )),
    RetentionClass("ml_features", "PULSE_RETENTION_ML_FEATURES_DAYS", 365, (
        ("ml", "ml_features", "scored_at"),
    )),
    RetentionClass("quarantine", "PULSE_RETENTION_QUARANTINE_DAYS", 30, (
        ("raw", "rejected_events", "rejected_at"),
    )),
)


def settings_table() -> list[dict[str, Any]]:
    return [{"class": c.name, "days": c.days(), "setting": c.env_var} for c in CLASSES]


def _exists(cur, schema: str, table: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (f'"{schema}"."{table}"',))
    return bool(cur.fetchone()[0])


# The monthly (range) partitions of a table with their upper bound; the default
# partition has none.
_PARTITIONS = """
select n.nspname, c.relname,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz
from pg_inherits i join pg_class c on c.oid = i.inhrelid
join pg_namespace n on n.oid = c.relnamespace
where i.inhparent = %s::regclass
"""


def _drop_expired_partitions(cur, schema: str, table: str, cutoff: datetime) -> int:
    """Drop the partitions whose every row is older than `cutoff` (their upper bound is
    at or before it); returns the rows they held. A partitioned table's expired months go
    whole: dropping a month costs nothing per row, where deleting it costs every row."""
    cur.execute(_PARTITIONS, (f'"{schema}"."{table}"',))
    removed = 0
    for part_schema, name, upper in cur.fetchall():
        if upper is None or upper > cutoff:
            continue
        part = sql.Identifier(part_schema, name)
        cur.execute(sql.SQL("select count(*) from {}").format(part))
        removed += cur.fetchone()[0]
        cur.execute(sql.SQL("drop table {}").format(part))
        # A dropped partition fires no trigger of the parent: the next nightly dbt build
        # must still see that the source changed (pulse/build_plan.py).
        cur.execute("insert into raw.source_changes (source_table, operation)"
                    " values (%s, 'drop partition')", (f"{schema}.{table}",))
    return removed


def purge(as_of: date | None = None, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Remove rows older than each class's period before `as_of`; one transaction."""
    as_of = as_of or datetime.now(UTC).date()
    periods = {c.name: c.days() for c in CLASSES}  # bad settings fail before any delete
    removed: list[dict[str, Any]] = []
    with transaction() as conn, conn.cursor() as cur:
        for cls in CLASSES:
            cutoff = datetime.combine(as_of - timedelta(days=periods[cls.name]), time(),
                                      tzinfo=UTC)
            for schema, table, column in cls.tables:
                if not _exists(cur, schema, table):
                    continue
                old = sql.SQL("{} < {}").format(sql.Identifier(column), sql.Literal(cutoff))
                if (schema, table) == ("delivery", "messages"):
                    cur.execute(sql.SQL(
                        "delete from delivery.outbox where message_id in"
                        " (select message_id from delivery.messages where {})").format(old))
                n = _drop_expired_partitions(cur, schema, table, cutoff)
                # Rows of partly expired months (and of the default partition) go
                # one by one.
                cur.execute(sql.SQL("delete from {} where {}").format(
                    sql.Identifier(schema, table), old))
                n += cur.rowcount
                cur.execute(
                    "insert into privacy.purge_log (as_of, retention_class, table_name,"
                    " cutoff, rows_removed) values (%s, %s, %s, %s, %s)",
                    (as_of, cls.name, f"{schema}.{table}", cutoff, n))
                removed.append({"class": cls.name, "table": f"{schema}.{table}",
                                "cutoff": cutoff.date().isoformat(), "rows_removed": n})
                if n:
                    log(f"retention {cls.name}: {n} row(s) of {schema}.{table} older than "
                        f"{cutoff.date()} removed")
    return removed

