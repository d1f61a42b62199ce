"""`pulse airflow dags test` builds its in-process execution API for the task SDK's API
version alone, and every `pulse airflow` command's task supervisors notice a task process's
exit at once (pulse/airflow_main.py). The runs themselves are tests/test_dags.py's (on a
Celery worker too) and tests/test_demo.py's; this checks both changes still apply to the
installed Airflow, which would otherwise silently cost every run its seconds again."""

from __future__ import annotations

import selectors
import subprocess
import sys

import psutil
import pytest

from pulse import airflow_main


def test_the_in_process_api_serves_the_sdk_version_alone(monkeypatch: pytest.MonkeyPatch):
    from airflow.api_fastapi.execution_api import app as execution_app
    from airflow.api_fastapi.execution_api import routes, versions
    from airflow.sdk.api.datamodels._generated import API_VERSION
    from fastapi.testclient import TestClient

    # undone after the test: this process's Airflow stays as installed
    monkeypatch.setattr(execution_app, "create_task_execution_api_app",
                        execution_app.create_task_execution_api_app)
    # The API checks tokens with Airflow's JWT secret, which only an airflow.cfg that an
    # `airflow` command wrote holds: in a fresh home (a new clone's `make test-fast`, this
    # test alone) nothing has written one yet.
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "test-only-secret")
    every_version = [v.value for v in versions.bundle.versions]
    assert len(every_version) > 1 and every_version[0] == API_VERSION

    assert airflow_main.serve_only_the_sdk_version()
    app = execution_app.create_task_execution_api_app()
    assert [v.value for v in app.versions.versions] == [API_VERSION]
    # what it replaced while building is back, for anything built after it
    assert [v.value for v in versions.bundle.versions] == every_version
    assert routes.execution_api_router.routes

    with TestClient(app) as client:
        ok = client.get("/health", headers={"Airflow-API-Version": API_VERSION})
        older = client.get("/health", headers={"Airflow-API-Version": every_version[-1]})
    assert ok.status_code == 200, ok.text
    assert older.status_code != 200  # not served: only the SDK's version is


@pytest.mark.airflow  # an `airflow dags test` that stops before any run: ~10 s
def test_a_dag_that_does_not_exist_is_one_line_without_a_traceback(airflow_db):
    from tests.conftest import pulse_cli

    proc = pulse_cli("airflow", "dags", "test", "no_such_dag", "2026-01-01", check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    last = (proc.stdout + proc.stderr).strip().splitlines()[-1]
    assert "'no_such_dag' could not be found" in last and "pulse airflow dags list" in last


def test_a_task_supervisor_waits_on_the_process_once_its_sockets_are_closed(
        monkeypatch: pytest.MonkeyPatch):
    from airflow.sdk.execution_time import supervisor

    # undone after the test: this process's Airflow stays as installed
    monkeypatch.setattr(supervisor.WatchedSubprocess, "_service_subprocess",
                        supervisor.WatchedSubprocess._service_subprocess)
    assert airflow_main.notice_task_exits_at_once()
    assert airflow_main.notice_task_exits_at_once()  # applied once, however often called

    waits: list[float | None] = []

    class Selector(selectors.DefaultSelector):
        def select(self, timeout=None):
            waits.append(timeout)
            return super().select(timeout)

    # A task process that has closed its sockets (none registered) and is about to exit,
    # watched as Airflow's forking supervisor watches one: only the fields its check reads.
    task = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    watched = object.__new__(supervisor.WatchedSubprocess)
    watched.selector = Selector()
    watched._process = supervisor.PsutilTracker(psutil.Process(task.pid))
    watched._exit_code = None
    watched._process_exit_monotonic = None
    try:
        # one heartbeat interval of Airflow's default
        assert watched._service_subprocess(max_wait_time=5.0) == 0
    finally:
        task.wait()
    # the exit was noticed waiting on the process: the selector was not slept on for
    # the heartbeat interval, but polled once (Airflow's minimum timeout)
    assert waits == [0.01]
    assert watched._process_exit_monotonic is not None
