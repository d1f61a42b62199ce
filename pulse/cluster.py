"""The local PostgreSQL cluster that Pulse starts for the demo and the tests.

When WAREHOUSE_URL is set none of this runs: Pulse uses that server as it is.
The cluster lives in $PULSE_HOME/pgdata, listens on 127.0.0.1 only, trusts loopback
connections (it is a developer's sandbox, never a shared server) and is created with the
PostgreSQL binaries found on PATH, then in /usr/lib/postgresql/*/bin. Connections to
the warehouse, wherever it runs, are pulse.warehouse's.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg2

from pulse.config import ENV_VARS, LOCAL_USER, DbParams, Settings, settings
from pulse.warehouse import WarehouseError, ensure_database

INSTALL_HINT = (
    "PostgreSQL's server binaries (initdb, pg_ctl) were not found on PATH, in "
    "/usr/lib/postgresql/*/bin or in $PULSE_PG_BIN.\n"
    "Install them (Debian/Ubuntu: `apt-get install postgresql`; macOS: "
    "`brew install postgresql@15`) or point Pulse at an existing server with "
    "WAREHOUSE_URL=postgresql://user:password@host:port/dbname."
)

# Collation "C" sorts as C.UTF-8 does (code point order, which is UTF-8's byte order),
# but PostgreSQL 15 compares text with memcmp and sorts it on abbreviated keys only under
# "C": text sorts and text index builds (event ids, user ids) run 2-3x faster
# (docs/scale-out.md). Character classes (upper, ilike) stay C.UTF-8's. docker-compose.yml
# initializes its servers with the same arguments (POSTGRES_INITDB_ARGS).
INITDB_LOCALE = ("--encoding=UTF8", "--locale=C.UTF-8", "--lc-collate=C")

# Settings for a single-user analytics sandbox: bulk loads and big sorts matter, and a
# crash can be recovered by re-running the pipeline, so commits need not wait for fsync.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "100",
    "shared_buffers": "'512MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'4GB'",
    # Bitmap heap scans ask the kernel for the pages ahead of reading them: a night's few
    # thousand consent events scattered through staging, read cold, 2.25 s one page at a
    # time and 0.51 s prefetched (docs/incremental.md, "Reads that wait on the disk").
    "effective_io_concurrency": "64",
    "synchronous_commit": "off",
    "jit": "off",
    "log_min_messages": "warning",
    "logging_collector": "off",
}


def find_pg_bin() -> Path:
    explicit = os.environ.get("PULSE_PG_BIN")
    assert "PULSE_PG_BIN" in ENV_VARS
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)

    def version_key(p: str) -> tuple[int, ...]:
        parts = Path(p).parent.name.split(".")
        return tuple(int(x) for x in parts if x.isdigit())

    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key,
                                reverse=True)
    ]
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "pg_ctl").is_file():
            return cand
    raise WarehouseError(INSTALL_HINT)


def _as_cluster_owner(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; the Debian packages ship a `postgres` user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _run(cmd: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(_as_cluster_owner(cmd), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise WarehouseError(
            f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return proc


def _prepare_dirs(s: Settings) -> None:
    s.home.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # The postgres user must be able to reach and own the data folder.
        s.pgdata.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(s.pgdata, "postgres", "postgres")
        probe = _run(["test", "-x", str(s.home)], check=False)
        if probe.returncode != 0:
            raise WarehouseError(
                f"The postgres user cannot reach {s.home}; make its parent folders "
                "world-executable (chmod o+x) or set PULSE_HOME to a folder it can reach."
            )


def is_running(s: Settings | None = None) -> bool:
    s = s or settings()
    if not (s.pgdata / "PG_VERSION").exists():
        return False
    proc = _run([str(find_pg_bin() / "pg_ctl"), "status", "-D", str(s.pgdata)], check=False)
    return proc.returncode == 0


def running_port(s: Settings | None = None) -> int | None:
    """The port this checkout's cluster listens on while it runs, else None.

    PostgreSQL writes it on the fourth line of postmaster.pid; it can differ from
    PULSE_WAREHOUSE_PORT when the cluster was started with another one (the tests pick a
    free port when the default is taken by another checkout's cluster)."""
    s = s or settings()
    pid_file = s.pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        if not is_running(s):
            return None  # a stale file left by a crash
        return int(lines[3])
    except (OSError, IndexError, ValueError, WarehouseError):
        return None


def _wait_ready(params: DbParams, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            psycopg2.connect(params.with_db("postgres").dsn(), connect_timeout=2).close()
            return
        except psycopg2.OperationalError as exc:
            last = exc
            time.sleep(0.2)
    raise WarehouseError(f"PostgreSQL did not accept connections within {timeout:.0f}s: {last}")


def up(s: Settings | None = None, log=print) -> DbParams:
    """Start the local cluster (creating it on first use) and make sure the warehouse and
    Airflow databases exist. With WAREHOUSE_URL set, only checks that server is reachable."""
    s = s or settings()
    wh = s.warehouse()
    if not s.uses_local_cluster:
        try:
            psycopg2.connect(wh.dsn(), connect_timeout=5).close()
        except psycopg2.OperationalError as exc:
            raise WarehouseError(
                f"WAREHOUSE_URL points at {wh.host}:{wh.port}/{wh.dbname}, which does not "
                f"answer: {exc}".strip()
            ) from exc
        _ensure_airflow_db(s, log)
        return wh

    bin_dir = find_pg_bin()
    _prepare_dirs(s)
    if not (s.pgdata / "PG_VERSION").exists():
        log(f"Creating a PostgreSQL cluster in {s.pgdata} ({bin_dir.parent.name}) ...")
        _run([str(bin_dir / "initdb"), "-D", str(s.pgdata), "-U", LOCAL_USER,
              "--auth=trust", *INITDB_LOCALE])
        conf = s.pgdata / "postgresql.auto.conf"
        lines = [f"{k} = {v}" for k, v in SERVER_SETTINGS.items()]
        lines.append(f"port = {s.local_port}")
        _append_as_owner(conf, "\n".join(lines) + "\n")
    actual = running_port(s)
    if actual is not None and actual != s.local_port:
        # Connecting to s.local_port would reach whatever else listens there, perhaps
        # another checkout's cluster.
        raise WarehouseError(
            f"The cluster in {s.pgdata} runs on port {actual}, not {s.local_port}: set "
            f"PULSE_WAREHOUSE_PORT={actual}, or stop it with `pulse warehouse down` first."
        )
    if actual is None and not is_running(s):
        log(f"Starting PostgreSQL on 127.0.0.1:{s.local_port} ...")
        logfile = s.pgdata / "server.log"
        proc = _run([str(bin_dir / "pg_ctl"), "start", "-w", "-D", str(s.pgdata), "-l",
                     str(logfile), "-o", f"-p {s.local_port}"], check=False)
        if proc.returncode != 0:
            tail = logfile.read_text(errors="replace").splitlines()[-5:] if logfile.exists() else []
            hint = (
                f" Port {s.local_port} is taken: stop whatever uses it, or pick another port "
                "with PULSE_WAREHOUSE_PORT." if any("could not bind" in ln or "in use" in ln
                                                   for ln in tail) else ""
            )
            raise WarehouseError(
                "PostgreSQL did not start." + hint + "\nLast lines of " + str(logfile) + ":\n"
                + "\n".join(tail)
            )
    _wait_ready(wh)
    if ensure_database(wh):
        log(f"Created database {wh.dbname}")
    _ensure_airflow_db(s, log)
    return wh


def _append_as_owner(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def _ensure_airflow_db(s: Settings, log) -> None:
    af = s.airflow_db()
    wh = s.warehouse()
    if (af.host, af.port) != (wh.host, wh.port):
        return  # someone else's server: they manage it
    try:
        if ensure_database(af, maintenance_db=wh.dbname):
            log(f"Created Airflow metadata database {af.dbname}")
    except psycopg2.Error as exc:
        raise WarehouseError(
            f"Could not create Airflow's metadata database {af.dbname}: {exc}. Create it, "
            "or set PULSE_AIRFLOW_DB_URL to one that exists."
        ) from exc


def down(s: Settings | None = None) -> bool:
    s = s or settings()
    if not s.uses_local_cluster or not is_running(s):
        return False
    _run([str(find_pg_bin() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(s.pgdata)])
    return True


def status(s: Settings | None = None) -> str:
    s = s or settings()
    wh = s.warehouse()
    if not s.uses_local_cluster:
        return f"external server (WAREHOUSE_URL): {wh.host}:{wh.port}/{wh.dbname}"
    if not (s.pgdata / "PG_VERSION").exists():
        return f"not created (will be created in {s.pgdata} by `pulse warehouse up`)"
    state = "running" if is_running(s) else "stopped"
    return f"local cluster {state}: 127.0.0.1:{s.local_port}/{wh.dbname}, data in {s.pgdata}"
