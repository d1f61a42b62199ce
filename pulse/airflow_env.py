"""Run Airflow's CLI against Pulse: its home, its DAGs and its metadata database.

Airflow's metadata lives in its own database (<warehouse db>_airflow) on the warehouse's
server, never in the warehouse database itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pulse.config import settings


def airflow_env(base: dict[str, str] | None = None) -> dict[str, str]:
    s = settings()
    env = dict(os.environ if base is None else base)
    defaults = {
        "AIRFLOW_HOME": str(s.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(s.dags_dir),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": s.airflow_db().url("postgresql+psycopg2"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # cosmos' dbt ls and partial-parse cache, in Airflow's home rather than /tmp/cosmos:
        # two checkouts (or the tests' parallel workers) on one machine never share it.
        "AIRFLOW__COSMOS__CACHE_DIR": str(s.airflow_home / "cosmos"),
        # cosmos' watcher producer would otherwise rewrite its whole XCom backup to an
        # Airflow Variable on each of the four events of every dbt node: half the nightly
        # build's time (README "Airflow"). Off, it writes the backup once, if it fails.
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # Airflow 3's own telemetry and update checks reach out to the internet.
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "true",
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    # The venv's bin first, so cosmos finds the dbt that belongs to this environment.
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    return env


def airflow_bin() -> str:
    candidate = Path(sys.executable).parent / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


def airflow_command(args: list[str]) -> list[str]:
    """The command line of `airflow ARGS`: Airflow's CLI through pulse.airflow_main, whose
    `dags test` starts its first task ~7 s sooner and whose task supervisors free a
    finished task's slot at once."""
    return [sys.executable, "-m", "pulse.airflow_main", *args]


def run_airflow(args: list[str], *, check: bool = True, quiet: bool = False
                ) -> subprocess.CompletedProcess[str]:
    settings().airflow_home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        airflow_command(args),
        env=airflow_env(),
        check=check,
        text=True,
        capture_output=quiet,
    )
