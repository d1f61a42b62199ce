"""Connections to the warehouse: the local cluster Pulse starts (pulse.cluster) or the
server WAREHOUSE_URL names. `transaction()` is the one way a block's writes commit
together; `connection()` when a long job commits in steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg2
from psycopg2 import sql

from pulse.config import DbParams, settings


class WarehouseError(RuntimeError):
    """A problem with the warehouse that the user must act on; the message says how."""


def ensure_database(params: DbParams, maintenance_db: str = "postgres") -> bool:
    """Create the database if it is missing. Returns True when it was created."""
    conn = psycopg2.connect(params.with_db(maintenance_db).dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (params.dbname,))
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("create database {}").format(sql.Identifier(params.dbname)))
            return True
    finally:
        conn.close()


def connect(params: DbParams | None = None):
    params = params or settings().warehouse()
    try:
        return psycopg2.connect(params.dsn(), application_name="pulse")
    except psycopg2.OperationalError as exc:
        hint = (
            "Start it with `pulse warehouse up` (or `make demo`)."
            if settings().uses_local_cluster
            else "Check WAREHOUSE_URL."
        )
        # One line: libpq's message spans several, and the hint is what to do next.
        reason = " ".join(str(exc).split())
        raise WarehouseError(
            f"cannot connect to the warehouse at {params.host}:{params.port}/{params.dbname} "
            f"({reason}). {hint}"
        ) from exc


def reachable(params: DbParams, what: str) -> None:
    """Raise a one-line WarehouseError saying what to do when `params` cannot be reached."""
    try:
        psycopg2.connect(params.dsn(), connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        reason = " ".join(str(exc).split())
        hint = ("start the local cluster, and create its databases, with "
                "`pulse warehouse up`" if settings().uses_local_cluster
                else "check WAREHOUSE_URL and PULSE_AIRFLOW_DB_URL; `pulse warehouse up` "
                "creates a missing Airflow database on the warehouse's server")
        raise WarehouseError(f"{what} {params.dbname} on {params.host}:{params.port} is not "
                             f"reachable ({reason}): {hint}") from exc


@contextlib.contextmanager
def connection(params: DbParams | None = None) -> Iterator[psycopg2.extensions.connection]:
    """A connection that is closed on the way out, whatever happens inside.

    Nothing is committed for the caller: use `transaction()` when the block's writes
    should commit together, or commit explicitly where a long job commits in steps.
    """
    conn = connect(params)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def transaction(params: DbParams | None = None) -> Iterator[psycopg2.extensions.connection]:
    """A connection whose block is one transaction: committed on success, rolled back
    on any exception, closed either way."""
    # psycopg2's `with conn` commits or rolls back but does not close; connection() closes.
    with connection(params) as conn, conn:
        yield conn
