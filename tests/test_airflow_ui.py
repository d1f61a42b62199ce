"""`make airflow-ui` (pulse/airflow_ui.py): everything on 127.0.0.1, and the admin
password in a file only its owner can read (docs/roles.md)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from pulse import airflow_ui


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_password_file_is_private_random_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_HOME", str(tmp_path))
    old = airflow_ui.passwords_file().with_name("simple_auth_manager_passwords.json.generated")
    old.parent.mkdir(parents=True)
    old.write_text('{"admin": "from-airflow-standalone"}')
    os.chmod(old, 0o644)
    path = airflow_ui.ensure_passwords_file()
    first = json.loads(path.read_text())
    assert _mode(path) == 0o600 and _mode(old) == 0o600
    assert list(first) == ["admin"] and len(first["admin"]) >= 20
    os.chmod(path, 0o644)
    assert airflow_ui.ensure_passwords_file() == path
    assert json.loads(path.read_text()) == first and _mode(path) == 0o600
    other = tmp_path / "other"
    monkeypatch.setenv("PULSE_HOME", str(other))
    assert json.loads(airflow_ui.ensure_passwords_file().read_text()) != first


def test_every_component_is_bound_to_loopback_or_serves_no_logs(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_HOME", str(tmp_path))
    env = airflow_ui.ui_env()
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://127.0.0.1:")
    assert env[airflow_ui.PASSWORDS_FILE_VAR] == str(airflow_ui.passwords_file())
    commands = {c[0]: c[1:] for c in airflow_ui.COMPONENTS}
    assert commands["api-server"][:2] == ["--host", "127.0.0.1"]
    # Airflow's log servers listen on every interface: they are not started at all
    assert "--skip-serve-logs" in commands["scheduler"]
    assert "--skip-serve-logs" in commands["triggerer"]
    assert "standalone" not in commands


def test_compose_writes_the_password_file_from_the_environment(tmp_path):
    target = tmp_path / "passwords.json"
    env = {**os.environ, airflow_ui.PASSWORDS_FILE_VAR: str(target),
           "AIRFLOW_ADMIN_PASSWORD": "p'w\"$(touch x)"}
    subprocess.run([sys.executable, "-m", "pulse.airflow_ui", "write-passwords-file"],
                   env=env, check=True, cwd=tmp_path)
    assert json.loads(target.read_text()) == {"admin": "p'w\"$(touch x)"}
    assert _mode(target) == 0o600 and not (tmp_path / "x").exists()
    env.pop("AIRFLOW_ADMIN_PASSWORD")
    proc = subprocess.run([sys.executable, "-m", "pulse.airflow_ui", "write-passwords-file"],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "make compose-env" in proc.stderr
