"""Wrong arguments and settings get one clear line and exit 2, never a traceback.

Every case runs the real `pulse` command in a subprocess, as a person would type it.
"""

from __future__ import annotations

import pytest

from tests.conftest import pulse_cli

# (arguments, environment, a word the one line must contain)
WITHOUT_WAREHOUSE = [
    (["load", "--through", "notadate"], {}, "YYYY-MM-DD"),
    (["load", "--through", "2026-02-30"], {}, "YYYY-MM-DD"),
    (["load", "--bogus"], {}, "unrecognized"),
    (["gate", "--day", "notadate"], {}, "YYYY-MM-DD"),
    (["demo", "--dirty", "2"], {}, "between 0 and 1"),
    (["demo", "--dirty", "nan"], {}, "between 0 and 1"),
    (["demo", "--seed", "x"], {}, "whole number"),
    (["demo", "--size", "huge"], {}, "invalid choice"),
    (["generate", "--days", "-3"], {}, "below 1"),
    (["generate", "--start", "2026-13-01"], {}, "YYYY-MM-DD"),
    (["generate", "--dirty", "inf"], {}, "between 0 and 1"),
    (["warehouse", "restart"], {}, "invalid choice"),
    (["ml"], {}, "required"),
    (["ml", "train", "--as-of", "nope"], {}, "YYYY-MM-DD"),
    (["ml", "train", "--max-iter", "0"], {}, "below 1"),
    (["ml", "score", "--day", "2026-02-30"], {}, "YYYY-MM-DD"),
    (["webhooks", "fill-outbox", "tomorrow"], {}, "YYYY-MM-DD"),
    (["webhooks", "endpoints", "add"], {}, "required"),
    (["webhooks", "endpoints", "add", "t", "https://a.example/h", "--max-batch", "0"], {},
     "below 1"),
    (["nosuchcommand"], {}, "invalid choice"),
    (["privacy", "erase"], {}, "--tenant"),
    (["report", "--from", "notadate"], {}, "YYYY-MM-DD"),
    (["dashboards", "list", "--bogus"], {}, "unrecognized"),
    (["webhooks", "endpoints", "rotate", "x", "--overlap-hours", "nan"], {}, "hours"),
    (["metabase", "apply"], {"PULSE_METABASE_ADMIN_PASSWORD": ""}, "PULSE_METABASE_ADMIN"),
    (["summary"], {"WAREHOUSE_URL": "mysql://user:hunter2@db.example/pulse"}, "postgresql://"),
    (["summary"], {"WAREHOUSE_URL": "postgresql://user:hunter2@db.example:99999/pulse"},
     "port"),
    (["summary"], {"WAREHOUSE_URL": "postgresql://user:hunter2@db.example:5432/"}, "database"),
    (["warehouse", "status"], {"PULSE_WAREHOUSE_PORT": "abc"}, "PULSE_WAREHOUSE_PORT"),
    (["summary"], {"WAREHOUSE_URL": "postgresql://pulse@127.0.0.1:1/nowhere"},
     "cannot connect"),
    # Airflow's own answer would be a 130-line traceback
    (["airflow", "dags", "list"],
     {"PULSE_AIRFLOW_DB_URL": "postgresql://pulse@127.0.0.1:1/nowhere"}, "not reachable"),
]

WITH_WAREHOUSE = [
    (["load"], {"PULSE_LANDING_DIR": "/nonexistent/landing"}, "does not exist"),
    (["gate", "nosuite", "--day", "2026-01-08"], {}, "no suite"),
    (["gate"], {}, "pulse load"),
    (["ml", "report", "--model-version", "nope"], {}, "not in ml.model_registry"),
    (["webhooks", "endpoints", "disable", "nope"], {}, "no endpoint"),
    (["airflow", "dags", "list"], {"PULSE_AIRFLOW_DB_URL": "postgresql://pulse@"
     "127.0.0.1:{port}/pulse_no_such_airflow_db"}, "pulse warehouse up"),
]


def _one_clear_line(args: list[str], env: dict[str, str], word: str) -> None:
    proc = pulse_cli(*args, env=env, check=False, timeout=120, refused=True)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(lines) == 1, proc.stderr
    assert word in lines[0], lines[0]
    # a password given in a URL is never echoed back
    assert "hunter2" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(("args", "env", "word"), WITHOUT_WAREHOUSE,
                         ids=[" ".join(a) + (" " + " ".join(e) if e else "")
                              for a, e, _ in WITHOUT_WAREHOUSE])
def test_a_wrong_argument_is_one_line_and_exit_2(args, env, word):
    _one_clear_line(args, env, word)


@pytest.mark.parametrize(("args", "env", "word"), WITH_WAREHOUSE,
                         ids=[" ".join(a) for a, _e, _w in WITH_WAREHOUSE])
def test_a_wrong_name_on_a_running_warehouse_is_one_line_and_exit_2(
        clean_warehouse, args, env, word):
    pulse_cli("migrate")
    _one_clear_line(args, {k: v.format(port=clean_warehouse.port) for k, v in env.items()},
                    word)


# Commands that read the warehouse, on one that was never migrated: a database error would
# otherwise surface as a psycopg2 traceback.
NOT_MIGRATED = [
    (["ml", "report"], {}, "pulse migrate"),
    (["webhooks", "endpoints", "list"], {}, "pulse migrate"),
]


@pytest.mark.parametrize(("args", "env", "word"), NOT_MIGRATED,
                         ids=[" ".join(a) for a, _e, _w in NOT_MIGRATED])
def test_a_warehouse_never_migrated_says_to_migrate(clean_warehouse, args, env, word):
    _one_clear_line(args, env, word)
