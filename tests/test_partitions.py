"""raw.events by month (docs/loading.md, "Partitions"): the conversion of an existing
table keeps every row, the loader creates the months it needs, a one-night query reads one
partition, and retention drops a wholly expired month instead of deleting its rows."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from generators import generate
from pulse import loader, migrate, warehouse
from pulse.config import settings
from pulse.privacy import retention
from tests.conftest import NO_TESTS, pulse_cli, query, scalar

START = date(2026, 1, 28)  # six days across the January / February boundary


def _partitions() -> list[str]:
    return [name for (name,) in query(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " where i.inhparent = 'raw.events'::regclass order by 1")]


def _relations(plan: object) -> set[str]:
    """Every table a JSON plan reads."""
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add(plan["Relation Name"])
        for value in plan.values():
            found |= _relations(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _relations(value)
    return found


def _load(tmp_path, jobs: int = 2) -> loader.LoadReport:
    landing = tmp_path / "landing"
    generate(landing, seed=5, tenants=3, users=40, days=6, start=START, dirty=0.02)
    migrate.apply(log=lambda _m: None)
    report = loader.load(landing, jobs=jobs)
    assert not report.problems
    return report


def test_the_conversion_keeps_every_row_in_its_month(clean_warehouse, tmp_path):
    before = tmp_path / "before"
    before.mkdir()
    for path in (settings().sql_dir / "migrations").glob("*.sql"):
        if int(path.name[:4]) < 11:
            shutil.copy(path, before / path.name)
    migrate.apply(before, log=lambda _m: None)
    rows = [(f"e{n}", "t1", ts, n) for n, ts in enumerate(
        ["2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z", "2026-01-15T12:00:00+05:00",
         "2026-02-28T23:00:00-03:00", "2031-07-01T00:00:00Z"])]
    with warehouse.transaction() as conn, conn.cursor() as cur:
        assert scalar("select relkind from pg_class where oid = 'raw.events'::regclass") == "r"
        cur.executemany(
            "insert into raw.events (event_id, tenant_id, event_ts, received_at, batch_id,"
            " line_number, payload) values (%s, %s, %s, %s, 1, %s, '{}')",
            [(e, t, ts, ts, n + 1) for e, t, ts, n in rows])
    kept = query("select event_id, event_ts, line_number from raw.events order by 1")

    migrate.apply(log=lambda _m: None)

    assert scalar("select relkind from pg_class where oid = 'raw.events'::regclass") == "p"
    assert query("select event_id, event_ts, line_number from raw.events order by 1") == kept
    assert _partitions() == ["events_202512", "events_202601", "events_202603",
                             "events_203107", "events_default"]
    where = dict(query("select event_id, tableoid::regclass::text from raw.events"))
    assert where == {"e0": "raw.events_202512", "e1": "raw.events_202601",
                     "e2": "raw.events_202601", "e3": "raw.events_202603",
                     "e4": "raw.events_203107"}


def test_a_month_created_later_takes_its_rows_from_the_default_partition(clean_warehouse):
    migrate.apply(log=lambda _m: None)
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute("insert into raw.events (event_id, tenant_id, event_ts, received_at,"
                    " batch_id, line_number, payload) values ('far', 't1',"
                    " '2040-05-05T00:00:00Z', now(), 1, 1, '{}')")
    assert scalar("select tableoid::regclass::text from raw.events") == "raw.events_default"
    assert scalar("select raw.ensure_events_partition('2040-05-20')") is True
    assert scalar("select raw.ensure_events_partition('2040-05-01')") is False
    assert query("select event_id, tableoid::regclass::text from raw.events") == [
        ("far", "raw.events_204005")]


def test_the_loader_creates_the_months_and_one_night_reads_one_partition(
        clean_warehouse, tmp_path):
    report = _load(tmp_path)
    # the months of the files' days, and one either side for late and early events
    assert _partitions() == ["events_202512", "events_202601", "events_202602",
                             "events_202603", "events_default"]
    assert scalar("select count(*) from raw.events") == report.rows_loaded - sum(
        f.rows_loaded for f in report.files if f.file.kind != "events")
    night = ("select count(*) from raw.events"
             " where event_ts >= '2026-01-30T00:00:00Z' and event_ts < '2026-01-31T00:00:00Z'")
    assert scalar(night) > 0
    plan = scalar("explain (format json) " + night)
    assert _relations(plan) == {"events_202601"}


def test_retention_drops_an_expired_month_and_deletes_rows_of_a_partial_one(
        clean_warehouse, tmp_path, monkeypatch):
    _load(tmp_path)
    cutoff = "2026-02-02T00:00:00Z"
    expired = scalar(f"select count(*) from raw.events where event_ts < '{cutoff}'")
    in_january = scalar("select count(*) from raw.events where event_ts < '2026-02-01'")
    left = scalar(f"select count(*) from raw.events where event_ts >= '{cutoff}'")
    assert 0 < in_january < expired  # some of February is expired too, not all of it
    monkeypatch.setenv("PULSE_RETENTION_USER_EVENTS_DAYS", "1")

    removed = retention.purge(as_of=date(2026, 2, 3), log=lambda _m: None)

    assert "events_202601" not in _partitions() and "events_202512" not in _partitions()
    assert "events_202602" in _partitions()
    assert scalar("select count(*) from raw.events") == left
    assert scalar(f"select count(*) from raw.events where event_ts < '{cutoff}'") == 0
    assert {r["table"]: r["rows_removed"] for r in removed}["raw.events"] == expired
    # a second purge finds nothing more, and drops nothing
    again = retention.purge(as_of=date(2026, 2, 3), log=lambda _m: None)
    assert {r["table"]: r["rows_removed"] for r in again}["raw.events"] == 0


@pytest.mark.dbt_build
def test_an_unpartitioned_fct_events_is_rebuilt_whole(clean_warehouse, tmp_path):
    """A fct_events table as an earlier version wrote it (not partitioned) is rebuilt by
    the next incremental run from every staged row, not from the night's new ones alone
    (macros/is_incremental.sql)."""
    _load(tmp_path)
    pulse_cli("dbt", "build", "--quiet", "--select", "+fct_events", *NO_TESTS)
    built = query("select event_id, event_date, session_id from marts.fct_events order by 1")
    assert len(built) > 100
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute("create table marts.fct_events_plain as select * from marts.fct_events")
        cur.execute("drop table marts.fct_events cascade")
        cur.execute("alter table marts.fct_events_plain rename to fct_events")
    assert scalar("select relkind from pg_class where oid = 'marts.fct_events'::regclass") == "r"

    pulse_cli("dbt", "build", "--quiet", "--select", "fct_events", *NO_TESTS)

    assert scalar("select relkind from pg_class where oid = 'marts.fct_events'::regclass") == "p"
    assert query(
        "select event_id, event_date, session_id from marts.fct_events order by 1") == built
