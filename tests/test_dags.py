"""The DAG files import cleanly, and the nightly DAG runs for real: in-process
(`airflow dags test`) and on a Celery worker (docs/scale-out.md).

Both run the first night: the module's warehouse after the in-process run of 2026-01-02
(`first_night`) is what the Celery run must equal. The tests run in the file's order:
the first checks that the warehouse is still the first night's, and the Celery run
starts from an empty one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date

import pytest

from generators import generate
from pulse import warehouse
from pulse.airflow_env import airflow_env
from pulse.config import settings
from tests import reference
from tests.celery_stack import celery_stack
from tests.conftest import REPO, marks, pulse_cli, query, reset_schemas, scalar
from tests.test_incremental_equality import differences, snapshot

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
from cosmos.operators._watcher import base
from pulse.orchestration import UNREAD_NODE_EVENTS
print(json.dumps({
    "unread_events_published": sorted(UNREAD_NODE_EVENTS & base._DBT_EVENT_ALLOWLIST),
    "finished_published": "NodeFinished" in base._DBT_EVENT_ALLOWLIST,
    "test_events_skipped": getattr(base._process_dbt_log_event, "skips_tests", False),
    "import_errors": bag.import_errors,
    "warnings": [[w.filename, w.lineno, str(w.message)] for w in caught],
    "task_ids": sorted(dag.task_ids) if dag else [],
    "catchup": dag.catchup if dag else None,
    "max_active_runs": dag.max_active_runs if dag else None,
    "retries": dag.default_args.get("retries") if dag else None,
    "train_params": sorted(bag.dags["pulse_train"].params) if "pulse_train" in bag.dags else [],
    "flags": {t.task_id: list(getattr(t, "dbt_cmd_flags", [])) for t in dag.tasks} if dag else {},
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
    # parsing the DAG stops cosmos publishing the node events no task reads (nor those of
    # data tests), and only those
    # (pulse.orchestration.publish_only_finished_nodes: a cosmos upgrade that moved its
    # allowlist fails here)
    assert result["unread_events_published"] == [] and result["finished_published"]
    assert result["test_events_skipped"]
    assert result["retries"] >= 1
    # the producer's build logs each dbt event once, through cosmos' callback
    # (pulse.orchestration.log_the_build_once); a model task's retry logs through dbt's
    # stdout as usual
    assert result["flags"]["dbt.dbt_producer_watcher"][-2:] == ["--log-level", "none"]
    assert "--log-level" not in result["flags"]["dbt.stg_pulse__events.run"]
    # a pulse_train run's params are what its task reads (pulse.ml.jobs.train_from_params,
    # tested with them in tests/test_ml_scoring.py)
    from pulse.ml import jobs

    assert result["train_params"] == sorted({"as_of", "seed", "max_iter", *jobs.RANGE_PARAMS})


def _warehouse_state() -> dict:
    return {
        "raw": scalar("select count(*) from raw.events"),
        "rejected": scalar("select count(*) from raw.rejected_events"),
        "ledger": scalar("select count(*) from raw.load_ledger"),
        "staging": scalar("select count(*) from staging.stg_pulse__events"),
        "dau": query("select tenant_id, activity_date, active_users, monthly_active_users"
                     " from marts.daily_active_users order by 1, 2"),
    }


def _full_state() -> dict:
    """Every relation dbt builds, row for row, and what the load and the gate recorded."""
    return {
        "models": snapshot(),
        "raw": query("select count(*), count(distinct event_id) from raw.events"),
        "rejected": query("select reason_code, count(*) from raw.rejected_events"
                          " group by 1 order by 1"),
        "ledger": query("select file_path, status, rows_loaded, rows_rejected"
                        " from raw.load_ledger order by 1"),
        "gate": query("select suite, success from quality.gate_runs order by 1"),
    }


FIRST = "2026-01-02"


@dataclass(frozen=True)
class Night:
    env: dict[str, str]
    summary: dict  # _warehouse_state() after it
    full: dict     # _full_state() after it


@pytest.fixture(scope="module")
@marks("airflow")
def first_night(warehouse_db, airflow_db, tmp_path_factory) -> Night:
    """The first night, in-process, on an empty warehouse: 2026-01-02, which also picks up
    2026-01-01, which no run loaded yet. Four days of landing files: later runs go on."""
    landing = tmp_path_factory.mktemp("nightly") / "landing"
    generate(landing, seed=11, tenants=3, users=40, days=4, start=date(2026, 1, 1), dirty=0.03)
    # Parsing the DAG runs `dbt ls` (cosmos): on a loaded machine it can take longer than
    # the default import timeout, in each task process of the Celery run too.
    env = {"PULSE_LANDING_DIR": str(landing), "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "900"}
    reset_schemas()
    pulse_cli("airflow", "dags", "test", "pulse_nightly", FIRST, env=env)
    reference.assert_warehouse_matches(landing, date(2026, 1, 2))
    return Night(env, _warehouse_state(), _full_state())


@pytest.mark.airflow
def test_the_first_night_catches_up_and_passes_every_gate(first_night):
    day1 = _warehouse_state()
    assert day1 == first_night.summary, "the module's warehouse is not the first night's"
    assert day1["raw"] > 0 and day1["rejected"] > 0 and day1["dau"]
    # it loaded 2026-01-01 too, which no run had loaded (first_night checks the warehouse
    # against the landing files through 2026-01-02)
    assert date(2026, 1, 1) in {activity_date for _, activity_date, _, _ in day1["dau"]}
    # the quality gate ran every suite, before and after dbt, and they passed
    assert query("select suite, success from quality.gate_runs where data_day = %s"
                 " order by suite", (FIRST,)) == [("marts", True), ("raw", True),
                                                  ("star", True), ("volume", True)]
    # The next night on a built warehouse (a new partition, an incremental build) is
    # tests/test_demo.py's: the demo's night follows its history, and is checked against
    # the landing files the same way. Re-running a night is the demo's too (the second
    # demo runs its night again); incremental builds equal to a full refresh, relation by
    # relation, are tests/test_incremental_equality.py's.


def _task_states() -> dict[str, str]:
    """task_id -> state of the newest pulse_nightly run, from Airflow's metadata."""
    with warehouse.connection(settings().airflow_db()) as conn, conn.cursor() as cur:
        cur.execute("select task_id, state from task_instance where run_id = ("
                    " select run_id from dag_run where dag_id = 'pulse_nightly'"
                    " order by id desc limit 1)")
        return dict(cur.fetchall())


@pytest.mark.airflow
@pytest.mark.timeout(3600)  # ~100 task processes on one worker
def test_the_first_night_on_celery_leaves_the_same_warehouse(first_night, tmp_path):
    """Scale-out, Airflow side (docs/scale-out.md): the nightly DAG's tasks run in a
    separate Celery worker process, with a local Redis as the broker (tests/celery_stack.py),
    and leave the warehouse the in-process run left."""
    reset_schemas()
    with celery_stack(tmp_path, first_night.env) as (stack_env, worker_log):
        pulse_cli("airflow", "dags", "test", "--use-executor", "pulse_nightly", FIRST,
                  env={**stack_env, **first_night.env}, timeout=1800)
        worker_lines = worker_log.read_text()
    on_celery = _full_state()
    assert on_celery["raw"][0][0] > 0 and on_celery["gate"]

    assert differences(on_celery["models"], first_night.full["models"]) == []
    assert {k: v for k, v in on_celery.items() if k != "models"} == \
        {k: v for k, v in first_night.full.items() if k != "models"}
    # Every task of the Celery run went through the worker (none ran in-process), and
    # each succeeded there.
    celery_tasks = _task_states()
    assert celery_tasks and set(celery_tasks.values()) <= {"success", "skipped"}, celery_tasks
    ran = {t for t in celery_tasks if f"task_id='{t}'" in worker_lines}
    assert ran == set(celery_tasks), set(celery_tasks) - ran
