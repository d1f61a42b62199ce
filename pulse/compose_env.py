"""`make compose-env`: the `.env` docker-compose reads, with random secrets (docs/roles.md).

docker-compose.yml has no default for any password, key or secret (`${VAR:?...}`), so it
refuses to start until this file exists. Values already in the file are kept, so running
it again never changes a password a running stack uses; missing ones are added. The file
is written with mode 0600 and is git-ignored; its values are never printed.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

from pulse.config import REPO_ROOT


def _password() -> str:
    # URL-safe: the passwords go into connection URLs unescaped
    return secrets.token_urlsafe(24)


def _metabase_password() -> str:
    # Metabase's default password complexity wants a digit and a letter; a URL-safe token
    # has none now and then, so one of each is appended.
    return _password() + secrets.choice("abcdefghijkmnpqrstuvwxyz") + str(
        secrets.randbelow(10))


def _fernet() -> str:
    return Fernet.generate_key().decode()


# name -> how a fresh value is made (docker-compose.yml reads each of them)
GENERATED: dict[str, Callable[[], str]] = {
    "POSTGRES_PASSWORD": _password,
    "AIRFLOW_ADMIN_PASSWORD": _password,
    "AIRFLOW_JWT_SECRET": lambda: secrets.token_urlsafe(48),
    "AIRFLOW_API_SECRET_KEY": lambda: secrets.token_urlsafe(48),
    "AIRFLOW_FERNET_KEY": _fernet,
    "PULSE_SECRETS_KEY": _fernet,
    "METABASE_ANALYST_PASSWORD": _password,
    # the Metabase admin `pulse metabase apply` creates on first start and logs in as
    "METABASE_ADMIN_PASSWORD": _metabase_password,
}


def _read(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                out[name.strip()] = value
    return out


def write(path: Path) -> list[str]:
    """Add what is missing to `path` (mode 0600); returns the names added."""
    values = _read(path)
    added = [name for name in GENERATED if not values.get(name)]
    for name in added:
        values[name] = GENERATED[name]()
    # so files the containers write to ./data belong to the user who runs compose
    if "AIRFLOW_UID" not in values:
        values["AIRFLOW_UID"] = str(os.getuid())
        added.append("AIRFLOW_UID")
    text = ("# Written by `make compose-env` for docker-compose.yml: keep it private (0600, "
            "git-ignored).\n" + "".join(f"{k}={v}\n" for k, v in values.items()))
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return added


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else REPO_ROOT / ".env"
    added = write(path)
    print(f"{path}: " + (f"added {', '.join(added)}" if added else "complete, nothing changed")
          + " (mode 0600; the Airflow login is admin / AIRFLOW_ADMIN_PASSWORD in this file)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
