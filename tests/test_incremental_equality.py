"""Loading and building day by day (incremental, with late events and duplicates in the
data) and a full refresh from scratch give identical models, relation by relation.

Every table and view in the schemas below is compared, discovered from the catalog, so a
model added later is covered without touching this test. Columns that record when a row
was written rather than what it says are left out (see `_is_write_time`).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta

import pytest

from generators import generate
from pulse import loader, migrate
from tests.conftest import NO_TESTS, NO_UNIT_TESTS, pulse_cli, query

START = date(2026, 1, 1)
DAYS = 12
SCHEMAS = ("staging", "intermediate", "marts")
WRITE_TIME_COLUMNS = {"_updated_at", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to",
                      "dbt_scd_id"}
SHOW = 5  # differing rows shown per side on failure
# The models that carry state from one run to the next (incremental ones) and every
# model they read. The other models (views, and tables nothing incremental reads) are
# rebuilt whole by any run, so only the last run decides what they hold.
STATEFUL = ("--select", "+config.materialized:incremental",
            "+config.materialized:partitioned_incremental")


def build_days(days: int) -> list[int]:
    """The days (0-based) after whose load dbt runs: every day for the first six, so each
    early day is built before its late events arrive (2 to 6 days later) and those land
    in days already built; then every third day, so one run also takes several days of
    new batches at once; and always the last day."""
    chosen = [d for d in range(days) if d < 6 or (d - 5) % 3 == 0]
    if chosen[-1] != days - 1:
        chosen.append(days - 1)
    return chosen


def _is_write_time(column: str) -> bool:
    return column in WRITE_TIME_COLUMNS or column.startswith("_")


def relations() -> dict[str, list[str]]:
    """schema.name -> the compared columns, for every table, view and materialized view."""
    rows = query(
        "select n.nspname, c.relname, a.attname from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
        " where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p')"
        " order by n.nspname, c.relname, a.attnum",
        (list(SCHEMAS),),
    )
    out: dict[str, list[str]] = {}
    for schema, name, column in rows:
        columns = out.setdefault(f"{schema}.{name}", [])
        if not _is_write_time(column):
            columns.append(column)
    return out


def _normalize(value):
    if isinstance(value, float):
        # floats aggregated in another order may differ in the last bits; that is not a
        # difference between the two builds
        return float(f"{value:.12g}")
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def snapshot() -> dict[str, tuple[list[str], Counter]]:
    out = {}
    for relation, columns in relations().items():
        schema, name = relation.split(".")
        select = ", ".join(f'"{c}"' for c in columns) or "1"
        rows = query(f'select {select} from "{schema}"."{name}"')
        out[relation] = (columns, Counter(tuple(_normalize(v) for v in row) for row in rows))
    return out


def _sorted_rows(rows: Counter) -> list[tuple]:
    return sorted(rows.elements(), key=lambda row: [(v is None, str(v)) for v in row])


def differences(incremental: dict, full: dict) -> list[str]:
    problems = []
    for relation in sorted(incremental.keys() | full.keys()):
        if relation not in full or relation not in incremental:
            where = "the incremental build" if relation in incremental else "the full refresh"
            problems.append(f"{relation}: exists only after {where}")
            continue
        (inc_cols, inc_rows), (full_cols, full_rows) = incremental[relation], full[relation]
        if inc_cols != full_cols:
            problems.append(f"{relation}: columns differ: {inc_cols} vs {full_cols}")
            continue
        if inc_rows == full_rows:
            continue
        only_inc, only_full = inc_rows - full_rows, full_rows - inc_rows
        lines = [f"{relation}: {inc_rows.total()} rows incremental, {full_rows.total()} after "
                 f"the full refresh; {only_inc.total()} only incremental, "
                 f"{only_full.total()} only full refresh; columns {inc_cols}"]
        lines += [f"    only incremental:  {row}" for row in _sorted_rows(only_inc)[:SHOW]]
        lines += [f"    only full refresh: {row}" for row in _sorted_rows(only_full)[:SHOW]]
        problems.append("\n".join(lines))
    return problems


def partitions_read(sql: str) -> set[str]:
    """The fct_events partitions PostgreSQL's plan for `sql` reads (pruned ones are not
    in the plan)."""
    plan = query(f"explain (format json, verbose) {sql}")[0][0]
    found: set[str] = set()

    def walk(node: dict) -> None:
        if node.get("Schema") == "marts_partitions":
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def assert_fct_events_partitioned() -> None:
    """fct_events is a table partitioned by month of event_date, with a partition for
    every month of its data and the month after, and one night's query reads one."""
    strategy = query(
        "select p.partstrat from pg_partitioned_table p join pg_class c on c.oid = p.partrelid"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'marts' and c.relname = 'fct_events'")
    assert strategy == [("r",)], "marts.fct_events should be partitioned by range"
    months = [m for (m,) in query(
        "select distinct to_char(event_date, 'YYYY_MM') from marts.fct_events order by 1")]
    last = query("select max(event_date) from marts.fct_events")[0][0]
    ahead = (last.replace(day=1) + timedelta(days=32)).strftime("%Y_%m")
    partitions = {name for (name,) in query(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " where i.inhparent = 'marts.fct_events'::regclass")}
    assert partitions == {f"fct_events_{m}" for m in [*months, ahead]}
    night = partitions_read(
        f"select tenant_id, count(*) from marts.fct_events where event_date = '{last}'"
        " group by tenant_id")
    assert night == {f"fct_events_{last:%Y_%m}"}, night
    # the partial indexes (macros/partial_index.sql) are on every partition, those made
    # later too: int_sessions_inferred reads a touched user's session-less active events
    # through one, ml_tenant_feature_snapshots the support events through the other
    partial = query(
        "select c.relname, pg_get_indexdef(x.indexrelid) from pg_inherits i"
        " join pg_class c on c.oid = i.inhrelid join pg_index x on x.indrelid = c.oid"
        " where i.inhparent = 'marts.fct_events'::regclass and x.indpred is not null")
    definitions = ["(tenant_id, user_id, event_at, event_id)"
                   " WHERE ((session_id IS NULL) AND is_active_event)",
                   "(tenant_id, event_date) WHERE (event_category = 'support'::text)"]
    found = {(name, d) for name, index in partial for d in definitions if index.endswith(d)}
    assert found == {(name, d) for name in partitions for d in definitions}, partial
    assert len(partial) == len(found), partial


def test_build_days():
    assert build_days(12) == [0, 1, 2, 3, 4, 5, 8, 11]
    assert build_days(10) == [0, 1, 2, 3, 4, 5, 8, 9]
    assert build_days(3) == [0, 1, 2]


def test_differences_names_the_relation_and_the_rows():
    same = {"marts.a": (["x"], Counter([(1,), (2,)]))}
    assert differences(same, same) == []
    other = {"marts.a": (["x"], Counter([(1,), (3,)])), "marts.b": (["y"], Counter())}
    problems = differences(same, other)
    assert len(problems) == 2
    assert "marts.a" in problems[0] and "(2,)" in problems[0] and "(3,)" in problems[0]
    assert "marts.b: exists only after the full refresh" in problems[1]
    assert _is_write_time("_batch_id") and _is_write_time("dbt_valid_to")
    assert not _is_write_time("activity_date")


@pytest.mark.dbt_build
def test_incremental_builds_equal_a_full_refresh(clean_warehouse, tmp_path):
    landing = tmp_path / "landing"
    tally = generate(landing, seed=5, tenants=3, users=60, days=DAYS, start=START, dirty=0.05)
    assert tally["late"] > 0 and tally["duplicates"] > 0
    migrate.apply(log=lambda _m: None)

    days = build_days(DAYS)
    for d in range(DAYS):
        report = loader.load(landing, through=START + timedelta(days=d))
        assert not report.problems, report.summary()
        if d in days:
            # The first night seeds and snapshots, and the last one builds and tests every
            # model; the nights between only need the incremental models' logic to run on
            # what they read, which is `dbt run` of those models and their parents (the
            # rest of the project is rebuilt whole by the last night). dbt's unit tests
            # check SQL, not data: tests/test_dbt_project.py runs them.
            if d == days[0]:
                pulse_cli("dbt", "build", "--quiet", *NO_TESTS)
            elif d == days[-1]:
                pulse_cli("dbt", "build", "--quiet", *NO_UNIT_TESTS)
            else:
                pulse_cli("dbt", "run", "--quiet", *STATEFUL)
    # the nightly run done twice: a build with nothing new changes nothing (its data tests
    # write nothing, and the last day's build ran them)
    incremental = snapshot()
    pulse_cli("dbt", "build", "--quiet", *NO_TESTS)
    assert differences(incremental, snapshot()) == [], "a second build changed the models"

    late = query(
        "select count(*) from staging.stg_pulse__events e join raw.load_ledger l"
        " on l.batch_id = e._batch_id where l.partition_date > e.event_date + 1")[0][0]
    assert late > 0, "the data set should make late events reach the built days"
    assert incremental["marts.daily_active_users"][1], "nothing was built"

    assert_fct_events_partitioned()
    assert query("select count(*) from marts.ml_user_feature_snapshots"
                 " where churned_next_30d is null")[0][0] > 0, "no snapshot rows"

    # Only the relations are compared: the data tests passed on the incremental build, and
    # equal relations pass them alike.
    pulse_cli("dbt", "build", "--full-refresh", "--quiet", *NO_TESTS)
    assert_fct_events_partitioned()
    full = snapshot()
    problems = differences(incremental, full)
    assert not problems, (
        f"{len(problems)} of {len(full)} relations differ between the day-by-day incremental "
        "builds and a full refresh:\n" + "\n".join(problems))

