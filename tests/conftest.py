"""Shared fixtures: a real PostgreSQL for every test that needs one.

Without WAREHOUSE_URL the tests use Pulse's local cluster (started if needed) with their
own databases, `pulse_test` and `pulse_test_airflow`, so a test run never touches the
demo's warehouse. With WAREHOUSE_URL the tests use that database as it is: point it at a
scratch database, because the tests drop and recreate Pulse's schemas in it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

if not os.environ.get("WAREHOUSE_URL"):
    os.environ.setdefault("PULSE_WAREHOUSE_DB", "pulse_test")
os.environ.setdefault("PULSE_HOME", str(REPO / ".pulse"))
# Airflow reads its configuration when first imported: set it before any test imports it.
from pulse.airflow_env import airflow_env  # noqa: E402

os.environ.update({k: v for k, v in airflow_env().items() if k.startswith("AIRFLOW")})

from pulse import warehouse  # noqa: E402
from pulse.config import settings  # noqa: E402

PULSE_SCHEMAS = ("raw", "staging", "intermediate", "marts", "reference", "analytics",
                 "snapshots", "quality", "ml", "delivery", "privacy")


@pytest.fixture(scope="session")
def warehouse_db():
    """The warehouse the tests use, up and reachable."""
    return warehouse.up(log=lambda _m: None)


@pytest.fixture(scope="session")
def airflow_db(warehouse_db):
    """Airflow's metadata database for the tests, migrated (idempotent, a few seconds)."""
    pulse_cli("airflow", "db", "migrate")
    return settings().airflow_db()


def reset_schemas(params=None) -> None:
    conn = warehouse.connect(params)
    conn.autocommit = True
    with conn.cursor() as cur:
        for schema in PULSE_SCHEMAS:
            cur.execute(f'drop schema if exists "{schema}" cascade')
    conn.close()


@pytest.fixture
def clean_warehouse(warehouse_db):
    """An empty warehouse: Pulse's schemas dropped before the test."""
    reset_schemas()
    return warehouse_db


def query(sql: str, params: tuple = ()) -> list[tuple]:
    conn = warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def scalar(sql: str, params: tuple = ()):
    return query(sql, params)[0][0]


def pulse_cli(*args: str, env: dict[str, str] | None = None, check: bool = True,
              timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run the real `pulse` CLI in a subprocess, as a user would."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "pulse"), *args],
        env={**os.environ, **(env or {})},
        text=True,
        capture_output=True,
        timeout=timeout,
        cwd=REPO,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"pulse {' '.join(args)} exited {proc.returncode}\n--- stdout (tail)\n"
            f"{proc.stdout[-6000:]}\n--- stderr (tail)\n{proc.stderr[-6000:]}"
        )
    return proc


__all__ = ["REPO", "pulse_cli", "query", "reset_schemas", "scalar", "settings"]
