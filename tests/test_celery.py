"""Scale-out, Airflow side (docs/scale-out.md): the nightly DAG's tasks run in a separate
Celery worker process, with a local Redis as the broker, and leave the same warehouse as
`airflow dags test` running them in-process.

No scheduler: `airflow dags test --use-executor` plays the scheduler's part for one run
and hands each task to the CeleryExecutor, which queues it on Redis; `airflow celery
worker` takes it from there and runs it through the api-server's execution API, as in
production. Needs Debian's redis-server (.ci/run installs it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from generators import generate
from pulse import warehouse
from pulse.airflow_env import airflow_bin
from pulse.config import settings
from pulse.scaleout import celery_env
from tests.conftest import pulse_cli, query, reset_schemas
from tests.ports import free_port
from tests.test_incremental_equality import differences, snapshot

DAY = "2026-01-02"
STARTUP_S = 240  # the api-server's and the worker's start on a loaded 2-core machine


def _wait(what: str, ready, procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        with contextlib.suppress(OSError):
            if ready():
                return
        time.sleep(1)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs
                      if log.exists())
    raise AssertionError(f"{what} did not come up\n{tails}")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return resp.status == 200


@contextlib.contextmanager
def celery_stack(folder: Path, extra_env: dict[str, str]) -> Iterator[tuple[dict[str, str], Path]]:
    """redis-server, Airflow's api-server and one Celery worker, each its own process on
    127.0.0.1; yields the environment that queues tasks to them, and the worker's log."""
    redis = shutil.which("redis-server")
    if redis is None:
        pytest.fail("redis-server is not installed: apt-get install redis-server "
                    "(.ci/run does)")
    redis_port, api_port = free_port(), free_port()
    env = celery_env(f"redis://127.0.0.1:{redis_port}/0", f"http://127.0.0.1:{api_port}",
                     secrets.token_urlsafe(32), base={**os.environ, **extra_env})
    logs = {name: folder / f"{name}.log" for name in ("redis", "api-server", "worker")}
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen(
            [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=logs["redis"].open("w"), stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [airflow_bin(), "api-server", "--host", "127.0.0.1", "--port", str(api_port)],
            env=env, stdout=logs["api-server"].open("w"), stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [airflow_bin(), "celery", "worker", "--concurrency", "2", "--skip-serve-logs",
             "--without-mingle", "--without-gossip"],
            env=env, stdout=logs["worker"].open("w"), stderr=subprocess.STDOUT))
        _wait("the api-server", lambda: _http_ok(f"http://127.0.0.1:{api_port}/api/v2/version"),
              procs, list(logs.values()))
        _wait("the Celery worker", lambda: "ready." in logs["worker"].read_text(),
              procs, list(logs.values()))
        yield env, logs["worker"]
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _state() -> dict:
    return {
        "models": snapshot(),
        "raw": query("select count(*), count(distinct event_id) from raw.events"),
        "rejected": query("select reason_code, count(*) from raw.rejected_events"
                          " group by 1 order by 1"),
        "ledger": query("select file_path, status, rows_loaded, rows_rejected"
                        " from raw.load_ledger order by 1"),
        "gate": query("select suite, success from quality.gate_runs order by 1"),
    }


def _task_states() -> dict[str, str]:
    """task_id -> state of the newest pulse_nightly run, from Airflow's metadata."""
    with warehouse.connection(settings().airflow_db()) as conn, conn.cursor() as cur:
        cur.execute("select task_id, state from task_instance where run_id = ("
                    " select run_id from dag_run where dag_id = 'pulse_nightly'"
                    " order by id desc limit 1)")
        return dict(cur.fetchall())


@pytest.mark.airflow
@pytest.mark.timeout(3600)  # two nightly runs, one of them ~100 task processes on a worker
def test_nightly_dag_on_celery_leaves_the_same_warehouse(clean_warehouse, airflow_db,
                                                         tmp_path):
    landing = tmp_path / "landing"
    generate(landing, seed=11, tenants=3, users=40, days=2, start=date(2026, 1, 1), dirty=0.03)
    # Parsing the DAG runs `dbt ls` (cosmos): on a loaded machine it can take longer than
    # the default import timeout, in each task process too.
    env = {"PULSE_LANDING_DIR": str(landing), "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "900"}

    with celery_stack(tmp_path, env) as (stack_env, worker_log):
        pulse_cli("airflow", "dags", "test", "--use-executor", "pulse_nightly", DAY,
                  env={**stack_env, **env}, timeout=1800)
        worker_lines = worker_log.read_text()
    on_celery = _state()
    assert on_celery["raw"][0][0] > 0 and on_celery["gate"]
    celery_tasks = _task_states()

    reset_schemas()
    pulse_cli("airflow", "dags", "test", "pulse_nightly", DAY, env=env)
    in_process = _state()

    assert differences(on_celery["models"], in_process["models"]) == []
    assert {k: v for k, v in on_celery.items() if k != "models"} == \
        {k: v for k, v in in_process.items() if k != "models"}
    # Every task of the Celery run went through the worker (none ran in-process), and
    # each succeeded there.
    assert celery_tasks and set(celery_tasks.values()) <= {"success", "skipped"}, celery_tasks
    ran = {t for t in celery_tasks if f"task_id='{t}'" in worker_lines}
    assert ran == set(celery_tasks), set(celery_tasks) - ran
