"""Airflow's CLI, for the commands that run tasks in-process (`airflow dags test`).

Such a command serves Airflow's execution API to its own tasks in-process
(`InProcessExecutionAPI`), and Cadwyn builds that app's routes for every API version
Airflow still accepts (nine in Airflow 3.3): about 8 s before the first task starts, in
every run, for a client that only ever speaks one version, the task SDK's of the same
installation. Here the in-process app is built for that version alone; the API server
(`airflow api-server`), which other installations' workers call, is not touched. When
Airflow's layout is not the one this was written against, nothing is changed and the run
costs what it did (README "Airflow").

Every `pulse airflow` command also goes through here, for the task supervisor (a
scheduler's LocalExecutor, a Celery worker, `dags test --use-executor`): when a task
process has closed its sockets but not yet exited, Airflow's supervisor waits on its
now empty selector until the next heartbeat check before it looks again: up to
`[workers] min_heartbeat_interval` (5 s by default) of an idle slot per task. Here it
waits on the process instead and frees the slot as soon as the process is gone.
"""

from __future__ import annotations

import contextlib
import sys
from copy import copy
from functools import wraps


def serve_only_the_sdk_version() -> bool:
    """Build the in-process execution API for the task SDK's API version alone; False
    (and nothing changed) when Airflow's internals differ from what this expects. Only
    for a process that serves no other client (`airflow dags test`)."""
    try:
        from airflow.api_fastapi.execution_api import app as execution_app
        from airflow.api_fastapi.execution_api import routes, versions
        from airflow.sdk.api.datamodels._generated import API_VERSION
        from cadwyn import Version, VersionBundle
        from cadwyn.route_generation import _DELETED_ROUTE_TAG
    except ImportError:
        return False
    create = getattr(execution_app, "create_task_execution_api_app", None)
    full = getattr(versions, "bundle", None)
    router = getattr(routes, "execution_api_router", None)
    if (create is None or full is None or router is None
            or full.versions[0].value != API_VERSION):
        return False
    # The newest version with no changes of its own: Cadwyn requires the oldest version
    # of a bundle to have none, and a bundle of one version converts nothing. Routes
    # that exist only in older versions are not served at the newest: left out, as
    # Cadwyn would leave them out of that version's router.
    only = VersionBundle(full.head_version, Version(API_VERSION))
    newest = copy(router)
    newest.routes = [r for r in router.routes
                     if _DELETED_ROUTE_TAG not in (getattr(r, "tags", None) or ())]

    @wraps(create)
    def create_for_the_sdk_version(*args, **kwargs):
        # both are imported by create_task_execution_api_app when it runs
        versions.bundle, routes.execution_api_router = only, newest
        try:
            return create(*args, **kwargs)
        finally:
            versions.bundle, routes.execution_api_router = full, router

    execution_app.create_task_execution_api_app = create_for_the_sdk_version
    return True


def notice_task_exits_at_once() -> bool:
    """Make Airflow's task supervisor wait on the task process, not on an empty selector,
    once the process has closed its sockets; False (nothing changed) when the supervisor
    is not laid out as this expects."""
    try:
        from airflow.sdk.execution_time.supervisor import WatchedSubprocess
    except ImportError:
        return False
    service = getattr(WatchedSubprocess, "_service_subprocess", None)
    fields = {f.name for f in getattr(WatchedSubprocess, "__attrs_attrs__", ())}
    if service is None or not {"_process", "_exit_code", "selector"} <= fields:
        return False
    if getattr(service, "waits_on_the_process", False):
        return True

    @wraps(service)
    def service_subprocess(self, max_wait_time: float, *args, **kwargs):
        if self._exit_code is None and not self.selector.get_map():
            # Nothing left to read: what is left to notice is the exit. Waiting on the
            # process (psutil polls it every few ms) reaps it and keeps its exit code,
            # which the supervisor's own check below then reads at once.
            with contextlib.suppress(self._process.TimeoutExpired):
                self._process.wait(timeout=max(max_wait_time, 0.0))
            max_wait_time = 0.0
        return service(self, max_wait_time, *args, **kwargs)

    service_subprocess.waits_on_the_process = True  # type: ignore[attr-defined]
    WatchedSubprocess._service_subprocess = service_subprocess
    return True


def main() -> None:
    notice_task_exits_at_once()
    # The in-process API only for a process that serves no other client: never the
    # api-server, which workers of other installations call.
    if sys.argv[1:3] == ["dags", "test"]:
        serve_only_the_sdk_version()
    from airflow.__main__ import main as airflow_main
    from airflow.sdk.exceptions import AirflowException

    sys.argv[0] = "airflow"
    try:
        airflow_main()
    except AirflowException as exc:  # bad input (a DAG id not found): one line, no traceback
        sys.exit(f"airflow {' '.join(sys.argv[1:3])}: {exc} (`pulse airflow dags list` "
                 "lists the DAGs)")


if __name__ == "__main__":
    main()
