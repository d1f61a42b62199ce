"""The DAG files import cleanly, and the nightly DAG runs for real (`airflow dags test`)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime

import pytest

from generators import generate
from pulse.airflow_env import airflow_env
from tests import reference
from tests.conftest import REPO, pulse_cli, query, scalar

# Run in a child process: DagBag talks to Airflow's metadata database (cosmos caches its
# dbt parse there), and a session left open in the test process would hold locks that the
# `airflow dags test` runs below wait on.
DAGBAG_PROBE = """
import json, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("pulse_nightly")
print(json.dumps({
    "import_errors": bag.import_errors,
    "warnings": [[w.filename, w.lineno, str(w.message)] for w in caught],
    "task_ids": sorted(dag.task_ids) if dag else [],
    "catchup": dag.catchup if dag else None,
    "max_active_runs": dag.max_active_runs if dag else None,
    "retries": dag.default_args.get("retries") if dag else None,
}))
"""


def test_dagbag_imports_without_errors_or_warnings(airflow_db):
    proc = subprocess.run(
        [sys.executable, "-c", DAGBAG_PROBE, str(REPO / "dags")],
        env=airflow_env(), capture_output=True, text=True, timeout=300, check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["import_errors"] == {}
    ours = [w for w in result["warnings"]
            if str(REPO / "dags") in w[0] or str(REPO / "pulse") in w[0]]
    assert ours == []

    task_ids = set(result["task_ids"])
    assert {"apply_raw_ddl", "load_landing", "gate_raw", "gate_models",
            "score_users", "score_tenants", "build_score_marts", "publish_marts",
            "refresh_report"} <= task_ids
    # cosmos (watcher mode) runs one dbt build and shows one task per model and per
    # model's tests, each reporting that node's outcome
    assert "dbt.dbt_producer_watcher" in task_ids
    assert "dbt.stg_pulse__events.run" in task_ids
    assert "dbt.daily_active_users.test" in task_ids
    assert result["catchup"] and result["max_active_runs"] == 1
    assert result["retries"] >= 1


def _warehouse_state() -> dict:
    return {
        "raw": scalar("select count(*) from raw.events"),
        "rejected": scalar("select count(*) from raw.rejected_events"),
        "ledger": scalar("select count(*) from raw.load_ledger"),
        "staging": scalar("select count(*) from staging.stg_pulse__events"),
        "dau": query("select tenant_id, activity_date, active_users, monthly_active_users"
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
    assert dau == reference.daily_active_users(reference.counted(expected))


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
    # the quality gate ran every suite, before and after dbt, and they passed
    assert query("select suite, success from quality.gate_runs where data_day = '2026-01-02'"
                 " order by suite") == [("marts", True), ("raw", True), ("star", True),
                                        ("volume", True)]

    pulse_cli("airflow", "dags", "test", "pulse_nightly", "2026-01-03", env=env)
    _assert_matches_landing(landing, date(2026, 1, 3))
    day2 = _warehouse_state()
    assert day2["raw"] > day1["raw"] and len(day2["dau"]) > len(day1["dau"])

    # Re-running a day leaves the same warehouse. (That incremental builds equal a full
    # refresh, relation by relation, is tests/test_incremental_equality.py's.)
    pulse_cli("airflow", "dags", "test", "pulse_nightly", "2026-01-03", env=env)
    assert _warehouse_state() == day2
