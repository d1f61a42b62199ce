"""Shared fixtures: a real PostgreSQL for every test that needs one.

Without WAREHOUSE_URL the tests use Pulse's local cluster (started if needed) with their
own databases, `pulse_test` and `pulse_test_airflow`, so a test run never touches the
demo's warehouse. With WAREHOUSE_URL the tests use that database as it is: point it at a
scratch database, because the tests drop and recreate Pulse's schemas in it. Without
PULSE_WAREHOUSE_PORT, the port is chosen by tests/ports.py (the running cluster's, else
the default if free, else a free one), so a second checkout on the machine can test too.

Markers (README "Tests"): `airflow` for a test that runs a DAG with `airflow dags test`,
`dbt_build` for one that needs a full `dbt build`; `make test-fast` leaves both out. A
fixture that does either carries the marker itself (`@marks("dbt_build")` under
`@pytest.fixture`), and every test that uses it, directly or through another fixture, is
marked at collection: a new test is classified by the fixtures it asks for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

REPO = Path(__file__).resolve().parents[1]

# `make test` runs the suite on one pytest-xdist worker per core. A worker inherits the
# environment this file set up in the controlling process: it drops those variables and
# sets them again for a home of its own (below), listed here by the process that set them.
SET_HERE = "PULSE_TESTS_SET_ENV"
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:
    for _key in filter(None, os.environ.pop(SET_HERE, "").split(",")):
        os.environ.pop(_key, None)
_before = dict(os.environ)

if not os.environ.get("WAREHOUSE_URL"):
    os.environ.setdefault("PULSE_WAREHOUSE_DB", "pulse_test")
os.environ.setdefault("PULSE_HOME", str(REPO / ".pulse"))
if WORKER:
    # Each worker has its own home, so its own cluster: roles are cluster-wide, and two
    # workers migrating one cluster at once would race to create them. The home also
    # holds the worker's Airflow home, cosmos cache, key file and dbt target folder.
    os.environ["PULSE_HOME"] = str(Path(os.environ["PULSE_HOME"]) / f"tests-{WORKER}")
    if os.environ.get("PULSE_WAREHOUSE_PORT"):
        # a port given for the run: worker gwN's cluster listens N ports above it
        _port = int(os.environ["PULSE_WAREHOUSE_PORT"]) + int(WORKER.removeprefix("gw"))
        os.environ["PULSE_WAREHOUSE_PORT"] = str(_port)
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        # One core per worker: scikit-learn's OpenMP threads (one per core by default)
        # would spin-wait against the other worker's work; a training then takes about 3
        # times as long as on one thread (measured with the other core busy). Set before
        # anything imports scikit-learn, and inherited by every subprocess.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
# Airflow reads its configuration when first imported: set it before any test imports it.
from pulse.airflow_env import airflow_env  # noqa: E402
from tests import ports, shared  # noqa: E402

AUTO_PORT = ports.auto_port()
if AUTO_PORT:
    os.environ["PULSE_WAREHOUSE_PORT"] = str(ports.choose())
os.environ.update({k: v for k, v in airflow_env().items() if k.startswith("AIRFLOW")})
os.environ[SET_HERE] = ",".join(k for k, v in os.environ.items() if _before.get(k) != v)

from pulse import cluster, warehouse  # noqa: E402
from pulse.config import settings  # noqa: E402
from tests import cli  # noqa: E402
from tests.cli import NO_TESTS, NO_UNIT_TESTS, dbt_build, pulse_cli, query, scalar  # noqa: E402

SLOW_MARKS = ("airflow", "dbt_build")
F = TypeVar("F", bound=Callable)


def marks(*names: str) -> Callable[[F], F]:
    """Put under @pytest.fixture: every test using the fixture gets these markers."""
    unknown = set(names) - set(SLOW_MARKS)
    assert not unknown, f"unknown markers {unknown}: register them in pyproject.toml"

    def decorate(func: F) -> F:
        func.pulse_marks = names  # type: ignore[attr-defined]
        return func
    return decorate


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("WAREHOUSE_URL") and (config.getoption("numprocesses", None) or WORKER):
        raise pytest.UsageError(
            "WAREHOUSE_URL names one database, which the tests reset: run them in one "
            "process (`make test WORKERS=0`, or pytest -n 0)")


# The modules that read the session's shared built warehouse (`built_warehouse`). Under
# `--dist loadfile` each file may go to either worker, and each worker would build the
# warehouse for itself (a minute on a busy machine): the scheduler below hands these
# files out together, to one worker. Collection fails when a module reads it unlisted.
SHARED_BUILD_READERS = ("tests/test_catalog_unknowns.py", "tests/test_metrics_reference.py")


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedBuildTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return SHARED_BUILD_READERS[0] if path in SHARED_BUILD_READERS else path

    return SharedBuildTogether(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # _fixtureinfo holds the fixtures a test uses, those of its fixtures included; pytest
    # has no public name for it (other items, e.g. doctests, have none and get no marks).
    for item in items:
        fixture_defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        for defs in fixture_defs.values():
            for name in getattr(defs[-1].func, "pulse_marks", ()):
                if not item.get_closest_marker(name):
                    item.add_marker(name)
        path = item.nodeid.split("::")[0]
        if "built_warehouse" in fixture_defs and path not in SHARED_BUILD_READERS:
            raise pytest.UsageError(
                f"{path} reads the shared built warehouse: add it to SHARED_BUILD_READERS "
                "in tests/conftest.py, so that one worker builds it once")
    # The heaviest files first (xdist hands out whole files, `--dist loadfile`), so no
    # worker is left with a long one at the end; within a file, the written order.
    # The cost of a file, roughly: a minute per DAG run, half a minute if it builds a
    # warehouse (most share one per file), a second per other test.
    weight: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        weight[path] = weight.get(path, 0) + (60 if item.get_closest_marker("airflow") else 1)
    for path in {i.nodeid.split("::")[0] for i in items if i.get_closest_marker("dbt_build")}:
        weight[path] += 30
    items.sort(key=lambda item: -weight[item.nodeid.split("::")[0]])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    cli.current_item = item


PULSE_SCHEMAS = ("raw", "staging", "intermediate", "marts", "reference", "analytics",
                 "snapshots", "quality", "ml", "delivery", "privacy")


@pytest.fixture(scope="session")
def warehouse_db():
    """The warehouse the tests use, up and reachable."""
    if AUTO_PORT:
        return ports.start()
    return cluster.up(log=lambda _m: None)


@pytest.fixture(scope="session")
def airflow_db(warehouse_db):
    """Airflow's metadata database for the tests, migrated (idempotent, a few seconds)."""
    pulse_cli("airflow", "db", "migrate")
    return settings().airflow_db()


def reset_schemas(params=None) -> None:
    with warehouse.transaction(params) as conn, conn.cursor() as cur:
        for schema in PULSE_SCHEMAS:
            cur.execute(f'drop schema if exists "{schema}" cascade')


@pytest.fixture
def clean_warehouse(warehouse_db):
    """An empty warehouse: Pulse's schemas dropped before the test."""
    reset_schemas()
    return warehouse_db


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """`env` set for the block, in this process (in-process Pulse code reads it) and so in
    every subprocess it starts."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield


@pytest.fixture(scope="session")
def dbt_target(warehouse_db, tmp_path_factory) -> Path:
    """A dbt target folder with the project parsed for the session; a later dbt command
    given `--target-path` this folder starts from that parse. On an xdist worker it is the
    folder the worker's other dbt commands of the same profile use (`pulse_cli`), so the
    parse is a partial one when one of them ran first; in one process, where those use
    the project's own target/, a folder of its own keeps that one's partial parse valid."""
    if WORKER:
        target = Path(os.environ["PULSE_HOME"]) / "dbt-target" / cli.cli_target((), os.environ)
        pulse_cli("dbt", "parse", "--quiet")
        return target
    target = tmp_path_factory.mktemp("dbt_target")
    pulse_cli("dbt", "parse", "--quiet", "--target-path", str(target))
    return target


@pytest.fixture(scope="session")
def dbt_manifest(dbt_target) -> dict:
    """The dbt project's manifest.json, parsed once for the session."""
    return json.loads((dbt_target / "manifest.json").read_text())


def _shared_scope(fixture_name: str, config: pytest.Config) -> str:
    # With WAREHOUSE_URL there is one database only, which other modules reset: the
    # shared warehouse is then rebuilt for each module that reads it.
    return "module" if os.environ.get("WAREHOUSE_URL") else "session"


@pytest.fixture(scope=_shared_scope)
@marks("dbt_build")
def shared_build(warehouse_db, tmp_path_factory) -> shared.Built:
    base = tmp_path_factory.mktemp("shared")
    planted = shared.generate_landing(base / "landing")
    database = settings().warehouse().dbname
    if not os.environ.get("WAREHOUSE_URL"):
        database = f"{database}_built"
        warehouse.ensure_database(settings().warehouse().with_db(database))
    built = shared.Built(database, base / "landing", base / "data", planted)
    # Its own dbt target folder: dbt parses the whole project again when the database it
    # connects to changes, and this keeps both folders' partial parse valid.
    env = {**built.env(), "DBT_TARGET_PATH": str(Path(settings().home) / f"dbt-{database}")}
    with environment(env):
        reset_schemas()
        pulse_cli("load", env=env)
        dbt_build(env=env)
    return built


@pytest.fixture
def built_warehouse(shared_build, monkeypatch) -> shared.Built:
    """The session's built warehouse (tests/shared.py), for a test that only reads it: the
    test's queries, `pulse` commands and in-process GX runs go to its database."""
    for key, value in shared_build.env().items():
        monkeypatch.setenv(key, value)
    return shared_build


__all__ = ["NO_TESTS", "NO_UNIT_TESTS", "REPO", "dbt_build", "environment", "marks", "pulse_cli",
           "query", "reset_schemas", "scalar", "settings"]
