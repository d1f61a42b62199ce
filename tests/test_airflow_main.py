"""`pulse airflow dags test` builds its in-process execution API for the task SDK's API
version alone (pulse/airflow_main.py). The runs themselves are tests/test_dags.py's and
tests/test_demo.py's; this checks the change still applies to the installed Airflow, which
would otherwise silently cost every run ~7 s again."""

from __future__ import annotations

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
