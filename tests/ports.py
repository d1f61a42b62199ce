"""Which port the tests' local cluster uses, so two checkouts can test on one machine.

Each checkout has its own cluster (in its own PULSE_HOME) and the tests use their own
databases on it. With PULSE_WAREHOUSE_PORT set, that port is used as it is. Without it:
the port this checkout's cluster already runs on (the tests share it), else the default
port if nothing listens there, else a free port the kernel hands out. Whatever is chosen
is written to PULSE_WAREHOUSE_PORT, so every `pulse`, dbt and Airflow subprocess of the
run reaches the same cluster.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from pulse import cluster, warehouse
from pulse.airflow_env import airflow_env
from pulse.config import DEFAULT_PORT, DbParams, settings

# Another process may take a free port between our check and PostgreSQL's bind.
ATTEMPTS = 3


def is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port (PostgreSQL binds there only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def choose(preferred: int = DEFAULT_PORT) -> int:
    """The running cluster's port, else `preferred` if free, else a free port."""
    running = cluster.running_port()
    if running is not None:
        return running
    return preferred if is_free(preferred) else free_port()


def use(port: int) -> None:
    """Point this process and its children at `port`, Airflow's connection included."""
    os.environ["PULSE_WAREHOUSE_PORT"] = str(port)
    env = airflow_env(base={})
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def auto_port() -> bool:
    """Whether the tests choose the port (no external server, no port given)."""
    return not os.environ.get("WAREHOUSE_URL") and not os.environ.get("PULSE_WAREHOUSE_PORT")


def start(preferred: int = DEFAULT_PORT, log: Callable[[str], None] = lambda _m: None
          ) -> DbParams:
    """Start (or reuse) the tests' cluster on a port chosen by `choose`, retrying when the
    port is taken in between. Call only when `auto_port()` was true at the start of the run
    (PULSE_WAREHOUSE_PORT then holds a port this module chose)."""
    port = choose(preferred)
    for _ in range(ATTEMPTS - 1):
        use(port)
        try:
            return cluster.up(settings(), log=log)
        except warehouse.WarehouseError as exc:
            if "is taken" not in str(exc):
                raise
        port = free_port()
    use(port)
    return cluster.up(settings(), log=log)
