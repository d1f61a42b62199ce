"""A Celery stack for the tests (docs/scale-out.md): redis-server, Airflow's api-server
(its execution API) and one Celery worker, each its own process on 127.0.0.1.

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
from pathlib import Path

import pytest

from pulse.airflow_env import airflow_command
from pulse.scaleout import celery_env
from tests.ports import free_port

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
        # The execution API alone: all a worker talks to (the UI and the REST API are
        # the deployment's api-server's; starting them is a third of this one's CPU).
        procs.append(subprocess.Popen(
            airflow_command(["api-server", "--host", "127.0.0.1", "--port", str(api_port),
                             "--apps", "execution"]),
            env=env, stdout=logs["api-server"].open("w"), stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            airflow_command(["celery", "worker", "--concurrency", "2", "--skip-serve-logs",
                             "--without-mingle", "--without-gossip"]),
            env=env, stdout=logs["worker"].open("w"), stderr=subprocess.STDOUT))
        _wait("the api-server", lambda: _http_ok(f"http://127.0.0.1:{api_port}/execution/health"),
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
