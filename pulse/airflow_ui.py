"""`make airflow-ui`: Airflow's api-server, scheduler, triggerer and dag-processor, on
127.0.0.1 only (docs/roles.md).

Not `airflow standalone`: its log servers (8793, 8794) listen on every interface and its
generated admin password lands in a world-readable file. Here the components run with
their log servers off (everything is on this machine, so the api-server reads the task
logs from disk), the api-server binds 127.0.0.1, and the admin password is written once,
at random, to $AIRFLOW_HOME/simple_auth_manager_passwords.json with mode 0600.

    python -m pulse.airflow_ui                        run the UI (what make airflow-ui does)
    python -m pulse.airflow_ui write-passwords-file   only write the file (docker-compose:
                                                      AIRFLOW_ADMIN_PASSWORD from the env)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from pulse.airflow_env import airflow_command, airflow_env
from pulse.config import settings

HOST = "127.0.0.1"
PORT = 8080
USER = "admin"
PASSWORDS_FILE_VAR = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"


def passwords_file() -> Path:
    return settings().airflow_home / "simple_auth_manager_passwords.json"


def write_passwords_file(path: Path, password: str) -> None:
    """The simple auth manager's {user: password} file, 0600 from the moment it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({USER: password}, fh)
    os.chmod(path, 0o600)


def ensure_passwords_file() -> Path:
    """Create the file with a random password the first time; afterwards keep it (and
    its password), only making sure nobody else can read it."""
    path = passwords_file()
    if not path.exists():
        write_passwords_file(path, secrets.token_urlsafe(18))
    os.chmod(path, 0o600)
    # What `airflow standalone` left behind earlier, readable by anyone: close it too.
    old = path.with_name(path.name + ".generated")
    if old.exists():
        os.chmod(old, 0o600)
    return path


def ui_env() -> dict[str, str]:
    env = airflow_env()
    env.update({
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        PASSWORDS_FILE_VAR: str(passwords_file()),
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(PORT),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{HOST}:{PORT}/execution/",
    })
    return env


COMPONENTS = (
    ["api-server", "--host", HOST, "--port", str(PORT)],
    ["scheduler", "--skip-serve-logs"],
    ["triggerer", "--skip-serve-logs"],
    ["dag-processor"],
)


def run() -> int:
    path = ensure_passwords_file()
    env = ui_env()
    print(f"Airflow UI: http://{HOST}:{PORT}  user {USER}, password in {path} (mode 0600)\n"
          f"  cat {path}\nCtrl-C stops Airflow.", flush=True)
    procs = [subprocess.Popen(airflow_command(cmd), env=env) for cmd in COMPONENTS]
    try:
        while all(p.poll() is None for p in procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                procs[0].wait(timeout=2)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    failed = [" ".join(c[:1]) for c, p in zip(COMPONENTS, procs, strict=True)
              if p.returncode not in (0, -signal.SIGTERM, None)]
    if failed:
        print(f"airflow {', '.join(failed)} stopped with an error: see the output above",
              file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["write-passwords-file"]:
        target = os.environ.get(PASSWORDS_FILE_VAR)
        password = os.environ.get("AIRFLOW_ADMIN_PASSWORD")
        if not target or not password:
            print(f"set {PASSWORDS_FILE_VAR} and AIRFLOW_ADMIN_PASSWORD (make compose-env "
                  "writes the password into .env)", file=sys.stderr)
            return 2
        write_passwords_file(Path(target), password)
        return 0
    if args:
        print("usage: python -m pulse.airflow_ui [write-passwords-file]", file=sys.stderr)
        return 2
    return run()


if __name__ == "__main__":
    raise SystemExit(main())
