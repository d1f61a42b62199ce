"""The DAG files import cleanly, and the nightly DAG runs for real (`airflow dags test`)."""

from __future__ import annotations

import warnings
from datetime import date, datetime

import pytest

from generators import generate
from tests import reference
from tests.conftest import REPO, pulse_cli, query, scalar


def test_dagbag_imports_without_errors_or_warnings(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    ours = [w for w in caught if str(REPO / "dags") in str(w.filename)
            or str(REPO / "pulse") in str(w.filename)]
    assert ours == [], [f"{w.filename}:{w.lineno}: {w.message}" for w in ours]

    dag = bag.dags["pulse_nightly"]
    task_ids = set(dag.task_ids)
    assert {"apply_raw_ddl", "load_landing", "publish_marts"} <= task_ids
    # cosmos renders one task per dbt model, each followed by its tests
    assert "dbt.stg_pulse__events.run" in task_ids
    assert "dbt.daily_active_users.test" in task_ids
    assert dag.catchup and dag.max_active_runs == 1
    assert dag.default_args["retries"] >= 1


def _warehouse_state() -> dict:
    return {
        "raw": scalar("select count(*) from raw.events"),
        "rejected": scalar("select count(*) from raw.rejected_events"),
        "ledger": scalar("select count(*) from raw.load_ledger"),
        "staging": scalar("select count(*) from staging.stg_pulse__events"),
        "dau": query("select tenant_id, activity_date, active_users, active_events"
                     " from marts.daily_active_users order by 1, 2"),
    }


def _assert_matches_landing(landing, day: date) -> None:
    expected = reference.events(landing, through=day)
    assert scalar("select max(partition_date) from raw.load_ledger") == day
    assert scalar("select count(*) from staging.stg_pulse__events") == len(expected)
    assert scalar("select count(distinct event_id) from raw.events") == len(expected)
    # the winning copy is the earliest received one
    staged = dict(query("select event_id, received_at from staging.stg_pulse__events"))
    some = sorted(expected)[:: max(1, len(expected) // 200)]
    for event_id in some:
        received = datetime.fromisoformat(expected[event_id]["received_at"])
        assert staged[event_id] == received, event_id
    dau = {(t, d): n for t, d, n in
           query("select tenant_id, activity_date, active_users from marts.daily_active_users")}
    assert dau == reference.daily_active_users(expected)


@pytest.mark.airflow
def test_nightly_dag_runs_two_consecutive_days(clean_warehouse, airflow_db, tmp_path):
    landing = tmp_path / "landing"
    generate(landing, seed=11, tenants=3, users=40, days=4, start=date(2026, 1, 1), dirty=0.03)
    env = {"PULSE_LANDING_DIR": str(landing)}

    # Day 1 (run for 2026-01-02) also picks up 2026-01-01, which no run loaded yet.
    pulse_cli("airflow", "dags", "test", "pulse_nightly", "2026-01-02", env=env)
    _assert_matches_landing(landing, date(2026, 1, 2))
    day1 = _warehouse_state()
    assert day1["raw"] > 0 and day1["rejected"] > 0 and day1["dau"]

    pulse_cli("airflow", "dags", "test", "pulse_nightly", "2026-01-03", env=env)
    _assert_matches_landing(landing, date(2026, 1, 3))
    day2 = _warehouse_state()
    assert day2["raw"] > day1["raw"] and len(day2["dau"]) > len(day1["dau"])

    # Re-running a day leaves the same warehouse.
    pulse_cli("airflow", "dags", "test", "pulse_nightly", "2026-01-03", env=env)
    assert _warehouse_state() == day2

    # The incremental mart equals a full refresh from scratch.
    pulse_cli("dbt", "build", "--full-refresh", "--quiet", env=env)
    assert _warehouse_state() == day2
