"""The local cluster, WAREHOUSE_URL, and the raw DDL's migration ledger."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from pulse import cluster, config, migrate, warehouse
from tests import ports
from tests.conftest import pulse_cli, query, scalar


def test_warehouse_url_is_parsed_into_every_consumer(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://ana:s%40cret@db.example:6543/metrics")
    s = config.settings()
    assert not s.uses_local_cluster
    wh = s.warehouse()
    assert (wh.host, wh.port, wh.user, wh.password, wh.dbname) == (
        "db.example", 6543, "ana", "s@cret", "metrics")
    assert s.airflow_db().dbname == "metrics_airflow"
    assert wh.dbt_env()["PULSE_PG_PASSWORD"] == "s@cret"
    assert config.DbParams.from_url(wh.url()) == wh


def test_a_bad_warehouse_url_says_what_is_wrong(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", "mysql://x/y")
    with pytest.raises(ValueError, match="postgresql://"):
        config.settings().warehouse()


def test_missing_binaries_give_one_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PULSE_PG_BIN", str(tmp_path / "nothing-here"))
    monkeypatch.setattr(cluster.glob, "glob", lambda _pattern: [])
    with pytest.raises(warehouse.WarehouseError) as err:
        cluster.find_pg_bin()
    message = str(err.value)
    assert "apt-get install postgresql" in message and "WAREHOUSE_URL" in message


def test_cli_reports_missing_binaries_without_a_traceback(monkeypatch, tmp_path, capsys):
    from pulse import cli

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PULSE_PG_BIN", str(tmp_path))
    monkeypatch.setenv("PULSE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.setattr(cluster.glob, "glob", lambda _pattern: [])
    assert cli.main(["warehouse", "up"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pulse: ") and "Traceback" not in err
    assert "WAREHOUSE_URL" in err


def test_migrations_apply_once_and_refuse_edits(clean_warehouse, tmp_path):
    files = sorted(p.name for p in (config.REPO_ROOT / "sql" / "migrations").glob("*.sql"))
    assert files[0] == "0001_raw_layer.sql"
    assert migrate.apply(log=lambda _m: None) == files
    assert migrate.apply(log=lambda _m: None) == []
    assert scalar("select count(*) from raw.schema_migrations") == len(files)

    folder = tmp_path / "migrations"
    shutil.copytree(config.REPO_ROOT / "sql" / "migrations", folder)
    (folder / "9999_add_column.sql").write_text(
        "alter table raw.load_ledger add column note text;")
    assert migrate.apply(folder, log=lambda _m: None) == ["9999_add_column.sql"]
    assert migrate.apply(folder, log=lambda _m: None) == []

    edited = folder / "0001_raw_layer.sql"
    edited.write_text(edited.read_text() + "\n-- an edit\n")
    with pytest.raises(warehouse.WarehouseError, match="must not change"):
        migrate.apply(folder, log=lambda _m: None)


def _execute(sql: str, params: tuple = ()) -> None:
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute(sql, params)


def test_a_warehouse_migrated_before_a_comment_only_edit_is_up_to_date(clean_warehouse):
    """0004's comments changed after it shipped; a warehouse that applied the former text
    migrates on (its checksum is brought up to date), any other text is still refused."""
    migrate.apply(log=lambda _m: None)
    (former,) = migrate.FORMER_COMMENT_ONLY_TEXTS[4]
    _execute("update raw.schema_migrations set sha256 = %s where version = 4", (former,))
    assert migrate.apply(log=lambda _m: None) == []
    current = migrate.discover()[3]
    assert current.version == 4
    assert scalar("select sha256 from raw.schema_migrations where version = 4") == \
        current.sha256
    _execute("update raw.schema_migrations set sha256 = 'x' where version = 4")
    with pytest.raises(warehouse.WarehouseError, match="must not change"):
        migrate.apply(log=lambda _m: None)


def _raw_rows_here() -> int:
    exists = query("select to_regclass('raw.events') is not null")[0][0]
    return scalar("select count(*) from raw.events") if exists else -1


def test_bring_your_own_server(tmp_path, warehouse_db):
    """A second cluster stands in for someone's server: with WAREHOUSE_URL pointing at it,
    the CLI loads there and never starts or touches the local cluster."""
    # pytest's tmp folders are private (0700); the cluster's owner, `postgres` when we run
    # as root, must be able to reach its data folder.
    other_root = Path(tempfile.mkdtemp(prefix="pulse-byo-"))
    other_root.chmod(0o755)
    other_home = other_root / "home"
    port = str(ports.free_port())  # not local_port + 1: another checkout may hold it
    env = {"PULSE_HOME": str(other_home), "PULSE_WAREHOUSE_PORT": port,
           "PULSE_WAREHOUSE_DB": "byo", "WAREHOUSE_URL": ""}
    rows_here_before = _raw_rows_here()
    pulse_cli("warehouse", "up", env=env)
    try:
        url = f"postgresql://pulse@127.0.0.1:{port}/byo"
        landing = tmp_path / "landing"
        pulse_cli("generate", "--out", str(landing), "--tenants", "2", "--users", "8",
                  "--days", "2", "--no-progress")
        byo = {"WAREHOUSE_URL": url, "PULSE_LANDING_DIR": str(landing),
               "PULSE_HOME": str(tmp_path / "unused-home")}
        pulse_cli("load", env=byo)
        status = pulse_cli("warehouse", "status", env=byo)
        assert "external server" in status.stdout
        assert not (tmp_path / "unused-home" / "pgdata").exists()

        loaded = pulse_cli("warehouse", "psql", "-At", "-c", "select count(*) from raw.events",
                           env=byo)
        assert int(loaded.stdout.strip()) > 0
        # The tests' own warehouse did not receive those rows.
        assert _raw_rows_here() == rows_here_before
    finally:
        pulse_cli("warehouse", "down", env=env, check=False)
        shutil.rmtree(other_root, ignore_errors=True)


def test_the_tests_start_their_warehouse_on_a_free_port_when_theirs_is_taken(monkeypatch):
    """A second checkout: its tests find the port taken by someone else's cluster (here a
    listening socket), start their own cluster on a free port instead, then share it."""
    root = Path(tempfile.mkdtemp(prefix="pulse-ports-"))
    root.chmod(0o755)  # the cluster's owner (`postgres` under root) must reach it
    monkeypatch.setenv("PULSE_HOME", str(root / "home"))
    monkeypatch.delenv("PULSE_WAREHOUSE_PORT", raising=False)
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", raising=False)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        assert ports.auto_port() and not ports.is_free(busy)
        try:
            # what the tests ran into before: the port is given, and it is taken
            with pytest.raises(warehouse.WarehouseError, match=f"Port {busy} is taken"):
                cluster.up(dataclasses.replace(config.settings(), local_port=busy),
                             log=lambda _m: None)
            cluster.down()

            params = ports.start(preferred=busy)
            assert params.port != busy
            assert int(os.environ["PULSE_WAREHOUSE_PORT"]) == params.port
            assert f":{params.port}/" in os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
            assert cluster.running_port() == params.port
            assert scalar("select current_setting('port')::int") == params.port
            # a second run of the tests shares the running cluster, whatever it prefers
            assert ports.choose(preferred=busy) == params.port
            # and nothing connects through a port the cluster does not listen on
            monkeypatch.setenv("PULSE_WAREHOUSE_PORT", str(busy))
            with pytest.raises(warehouse.WarehouseError,
                               match=f"runs on port {params.port}, not {busy}"):
                cluster.up(log=lambda _m: None)
        finally:
            monkeypatch.delenv("PULSE_WAREHOUSE_PORT", raising=False)
            cluster.down()
            shutil.rmtree(root, ignore_errors=True)


def test_the_local_cluster_sorts_text_by_code_point_on_the_fast_path(warehouse_db):
    """Collation "C" (byte order, which for UTF-8 is code point order: what C.UTF-8 gives
    too) is the one PostgreSQL 15 sorts and indexes text on with memcmp and abbreviated
    keys; character classes stay C.UTF-8's (docs/scale-out.md)."""
    if os.environ.get("WAREHOUSE_URL"):
        pytest.skip("WAREHOUSE_URL names a server Pulse did not create")
    collate, ctype = query(
        "select datcollate, datctype from pg_database where datname = current_database()")[0]
    assert (collate, ctype) == ("C", "C.UTF-8")
    words = ["alpha", "Zeta", "éclair", "Éclair", "a b", "a_b", "10", "9", "ß", "ζ", "😀", ""]
    values = ", ".join(f"('{w}')" for w in words)
    in_sql = [r[0] for r in query(f"select w from (values {values}) as v(w) order by w")]
    assert in_sql == sorted(words)
    assert scalar("select upper('éclair ß')") == "ÉCLAIR ß"
