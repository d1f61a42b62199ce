"""Running `pulse` as a user would, from the tests, and reading the warehouse back.

tests/conftest.py re-exports these (tests import them from there). `pulse_cli` refuses a
slow command (an Airflow run, a full dbt build) in a test not marked for it, so nothing
slow slips into `make test-fast`: conftest tells it which test runs (`current_item`).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from pulse import dbt_inprocess, warehouse

REPO = Path(__file__).resolve().parents[1]
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
# The test being set up or run (set by tests/conftest.py).
current_item: pytest.Item | None = None


def _needs_marker(args: tuple[str, ...]) -> str | None:
    if args[:3] == ("airflow", "dags", "test") or args[:1] == ("demo",):
        return "airflow"
    # `dbt build --empty` builds every model on empty relations: no data, a few seconds
    if args[:1] == ("dbt",) and "build" in args[1:3] and "--empty" not in args:
        return "dbt_build"
    return None


def check_marked(args: tuple[str, ...]) -> None:
    """A slow command in a test not marked for it would slip into `make test-fast`."""
    needed = _needs_marker(args)
    if needed and current_item is not None and not current_item.get_closest_marker(needed):
        raise AssertionError(
            f"{current_item.nodeid} runs `pulse {' '.join(args[:3])}`: mark the test (or the "
            f"fixture that runs it, with @marks) `{needed}`, see tests/conftest.py")


def query(sql: str, params: tuple = ()) -> list[tuple]:
    """The rows of one statement, in a transaction of its own (committed)."""
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def scalar(sql: str, params: tuple = ()):
    return query(sql, params)[0][0]


def cli_target(args: tuple[str, ...], env: Mapping[str, str]) -> str:
    """A dbt target folder per profile and per `--vars`: dbt parses the whole project
    again (10 s) when either differs from the last parse in its folder, and the tests
    alternate between databases, servers and vars."""
    vars_given = args[args.index("--vars") + 1] if "--vars" in args[:-1] else ""
    profile = [env.get(k, "") for k in ("WAREHOUSE_URL", "PULSE_WAREHOUSE_DB",
                                         "PULSE_WAREHOUSE_PORT", "PULSE_DBT_TARGET")]
    digest = hashlib.sha256(json.dumps([profile, vars_given]).encode()).hexdigest()[:10]
    return f"cli-{digest}"


RUNS_NODES = {"build", "run", "test", "seed", "snapshot"}


def _dbt_command(args: tuple[str, ...]) -> str | None:
    """`build` for `dbt --no-use-colors build ...`; None when not a dbt command."""
    if args[:1] != ("dbt",):
        return None
    return next((a for a in args[1:] if not a.startswith("-")), None)


def pulse_cli(*args: str, env: dict[str, str] | None = None, check: bool = True,
              timeout: float = 900, refused: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real `pulse` CLI in a subprocess, as a user would (a silenced dbt run: dbt
    in this process, below). `refused=True`: the arguments are meant to be refused before
    anything runs, so even a slow command is fast."""
    if not refused:
        check_marked(args)
    dbt_env: dict[str, str] = {}
    if WORKER and args[:1] == ("dbt",):
        # dbt's default target/ and logs/ are in the project, which all workers share
        home = Path(os.environ["PULSE_HOME"])
        target = cli_target(args, {**os.environ, **(env or {})})
        dbt_env = {"DBT_TARGET_PATH": str(home / "dbt-target" / target),
                   "DBT_LOG_PATH": str(home / "dbt-logs")}
    if _dbt_command(args) in RUNS_NODES:
        # No test reads a build's run_results.json, manifest.json (`dbt parse` writes the
        # one dbt_manifest reads) or debug log file: writing them is a tenth of a small
        # build's CPU. A failure is in the command's output, which a failing test shows.
        dbt_env |= {"DBT_WRITE_JSON": "false", "DBT_LOG_LEVEL_FILE": "none"}
    # dbt formats every event of a run, debug ones included, before `--quiet` drops all
    # but errors: a fifth of a build's CPU. A checked `--quiet` run's output is read only
    # when it fails, so it runs with no console log, and a failure runs again with it.
    silenced = (check and "--quiet" in args and _dbt_command(args) in RUNS_NODES
                and "DBT_LOG_LEVEL" not in (env or {}))

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "pulse"), *args],
            env={**os.environ, **dbt_env, **(env or {})},
            text=True,
            capture_output=True,
            timeout=timeout,
            cwd=REPO,
        )

    if silenced:
        # Silenced, nothing of the run is read but its outcome: dbt runs in this process
        # (pulse/dbt_inprocess.py: ~0.4 s to start a run instead of ~3.5 s for a `pulse
        # dbt` process), and only a failure runs `pulse dbt` again to show dbt's error.
        overlay = {**dbt_env, "DBT_LOG_LEVEL": "none", **(env or {})}
        if dbt_inprocess.invoke(args[1:], overlay).success:
            return subprocess.CompletedProcess(["pulse", *args], 0, "", "")
    proc = run()
    if silenced and proc.returncode == 0:
        raise AssertionError(f"pulse {' '.join(args)} failed in-process with dbt's "
                             "console log off, then passed as `pulse dbt` with it on")
    if check and proc.returncode != 0:
        raise AssertionError(
            f"pulse {' '.join(args)} exited {proc.returncode}\n--- stdout (tail)\n"
            f"{proc.stdout[-6000:]}\n--- stderr (tail)\n{proc.stderr[-6000:]}"
        )
    return proc


# Unit tests check the SQL on fixed fixtures, whatever data a warehouse holds:
# tests/test_dbt_project.py runs them once, so a fixture that builds a warehouse for its
# data leaves them out (they are a quarter of a build's time).
NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")


# Data tests check a build's rows: every nightly DAG run of the suite runs them on its own
# data (tests/test_dags.py, test_demo.py, test_privacy.py, test_quality_gate.py), so a
# fixture that builds a warehouse for other tests to read leaves them out too (about 16 s
# of a 41 s build's CPU, dbt's per-node overhead mostly).
NO_TESTS = (*NO_UNIT_TESTS, "--exclude-resource-type", "test")


def dbt_build(*args: str, env: dict[str, str] | None = None, data_tests: bool = False) -> None:
    """`pulse dbt build` of the warehouse's data: models, snapshots and seeds, and the data
    tests when asked for (`data_tests=True`)."""
    pulse_cli("dbt", "build", "--quiet", *(NO_UNIT_TESTS if data_tests else NO_TESTS), *args,
              env=env)
