"""A night with nothing new skips the dbt build (docs/incremental.md "A night with nothing
new"): pulse/build_plan.py decides from raw.source_changes (filled by triggers), the
project's files and the relations dbt built. The DAG's side, a re-run whose build tasks
are skipped while the rest of the night runs, is tests/test_demo.py's (the second demo
runs the night again)."""

from __future__ import annotations

from datetime import date, timedelta

import yaml

from generators import generate
from pulse import build_plan, loader, migrate, warehouse
from pulse.config import settings
from pulse.privacy import retention
from tests.conftest import query, scalar

START = date(2026, 3, 30)


def _run(sql: str) -> None:
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute(sql)


def _built(plan: build_plan.Plan) -> None:
    """What the nightly run does after a build that succeeded."""
    assert plan.build, plan
    build_plan.record(plan.build_id)


def test_a_build_is_planned_until_one_succeeds_then_only_after_a_change(clean_warehouse,
                                                                        tmp_path):
    landing = tmp_path / "landing"
    generate(landing, seed=3, tenants=2, users=20, days=3, start=START, dirty=0.02)
    migrate.apply(log=lambda _m: None)
    assert loader.load(landing, through=START).files
    _run("create table marts.built_by_dbt (n int)")  # stands in for dbt's relations

    first = build_plan.plan()
    assert first.build and first.reason == "no build has succeeded yet"
    # that build failed (nothing recorded): the next night plans again, with its changes
    again = build_plan.plan()
    assert again.build and again.reason == "no build has succeeded yet"
    _built(again)
    assert scalar("select count(*) from raw.source_changes where consumed_by is null") == 0
    assert build_plan.plan() == build_plan.Plan(None, "nothing changed since the last build")

    # a re-run: the files are in the ledger already, and the retention purge (which
    # deletes nothing this night) changes nothing either
    loader.load(landing, through=START)
    assert retention.purge(START, log=lambda _m: None)
    assert not build_plan.plan().build

    # the next day's files
    loader.load(landing, through=START + timedelta(days=1))
    planned = build_plan.plan()
    assert planned.build and "raw.events" in planned.reason and "raw.load_ledger" in planned.reason
    # a change committed while that build runs is not consumed by it
    _run("delete from raw.events where event_id = (select min(event_id) from raw.events)")
    _built(planned)
    late = build_plan.plan()
    assert late.build and late.reason == "1 change(s) to raw.events", late
    _built(late)
    assert not build_plan.plan().build

    # an update that touches no row is no change; one that does is
    _run("update raw.accounts set line_number = line_number where false")
    assert not build_plan.plan().build
    _run("update raw.accounts set line_number = line_number"
         " where batch_id = (select min(batch_id) from raw.accounts)")
    assert build_plan.plan().reason == "1 change(s) to raw.accounts"
    _built(build_plan.plan())

    # a month dropped whole by retention fires no trigger: the purge records it
    purged = retention.purge(START + timedelta(days=800), log=lambda _m: None)
    assert any(p["table"] == "raw.events" and p["rows_removed"] for p in purged)
    assert ("raw.events", "drop partition") in query(
        "select source_table, operation from raw.source_changes where consumed_by is null")
    _built(build_plan.plan())

    # a relation dbt built, dropped by hand: built again
    _run("drop table marts.built_by_dbt")
    dropped = build_plan.plan()
    assert dropped.reason == "relations dbt builds were dropped or added outside a build"
    _built(dropped)

    # a warehouse whose raw changes are not tracked (Citus, docs/scale-out.md) builds
    _run("drop trigger source_change_insert on raw.users")
    assert build_plan.plan().reason == ("changes to the raw sources are not tracked here:"
                                        " every night builds")
    migrate_0017 = settings().sql_dir / "migrations" / "0017_source_changes.sql"
    _run(migrate_0017.read_text())  # idempotent: the triggers are back, nothing changed
    assert not build_plan.plan().build

    # a new version of the project (as if a model's file changed)
    _run("update raw.dbt_builds set project_sha256 = 'an older project'")
    assert build_plan.plan().reason == "the dbt project or the raw DDL changed"
    assert build_plan.project_sha256() == build_plan.project_sha256()


def test_the_project_digest_follows_the_settings_the_models_read(monkeypatch):
    monkeypatch.setenv("PULSE_WEBHOOK_AT_RISK_THRESHOLD", "0.7")
    production = build_plan.project_sha256()
    monkeypatch.setenv("PULSE_WEBHOOK_AT_RISK_THRESHOLD", "0.3")
    assert build_plan.project_sha256() != production
    monkeypatch.setenv("PULSE_WEBHOOK_AT_RISK_THRESHOLD", "0.7")
    assert build_plan.project_sha256() == production


def test_every_raw_source_has_the_change_triggers(clean_warehouse):
    migrate.apply(log=lambda _m: None)
    sources = yaml.safe_load((settings().dbt_project_dir / "models" / "staging"
                              / "_pulse__sources.yml").read_text())["sources"]
    raw = [t["name"] for s in sources if s.get("schema") == "raw" for t in s["tables"]]
    assert sorted(raw) == sorted(build_plan.RAW_SOURCES)
    for table in raw:
        triggers = {name for (name,) in query(
            "select tgname from pg_trigger where tgrelid = %s::regclass and not tgisinternal",
            (f"raw.{table}",))}
        assert {"source_change_insert", "source_change_update", "source_change_delete",
                "source_change_truncate"} <= triggers, (table, triggers)
    assert scalar("select count(*) from raw.source_changes") == 0


def test_dbt_builds_only_into_the_schemas_the_plan_watches(dbt_manifest):
    built = {n["schema"] for n in dbt_manifest["nodes"].values()
             if n["resource_type"] in ("model", "seed", "snapshot")}
    assert built and built <= set(build_plan.DBT_SCHEMAS), built - set(build_plan.DBT_SCHEMAS)
