"""The keyed hash (HMAC-SHA256) that stands in for personal identifiers.

One key hashes emails in staging (PostgreSQL's pgcrypto, through the session setting
`pulse.pii_key`) and erasure subjects (here), so equal inputs give equal hashes on both
sides. The key comes from PULSE_PII_KEY; without it, a developer's sandbox keeps a random
key in $PULSE_HOME/pii.key (mode 0600). Changing the key breaks joins on hashed values
and the loader's memory of erased subjects: see docs/privacy.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import cache
from pathlib import Path

from pulse.config import _env, settings

KEY_FILE = "pii.key"
# The PostgreSQL setting the staging models read the key from (docs/privacy.md).
PG_SETTING = "pulse.pii_key"


class PiiKeyError(RuntimeError):
    """The key is unusable; the message says what to do."""


def key_file() -> Path:
    return settings().home / KEY_FILE


def _read_or_create(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    if path.stat().st_mode & 0o077:
        raise PiiKeyError(f"{path} is readable by other users: run `chmod 600 {path}`")
    return path.read_text(encoding="utf-8").strip()


@cache
def _key_for(explicit: str | None, path: str) -> str:
    key = explicit if explicit is not None else _read_or_create(Path(path))
    if len(key) < 16 or any(c.isspace() or c == "\\" for c in key):
        raise PiiKeyError("PULSE_PII_KEY must be at least 16 characters, without spaces or "
                        "backslashes (e.g. `openssl rand -hex 32`)")
    return key


def pii_key() -> str:
    return _key_for(_env("PULSE_PII_KEY"), str(key_file()))


def keyed_hash(value: str) -> str:
    """Hex HMAC-SHA256 of `value`; privacy.pii_hash() in SQL computes the same for
    lower-cased emails."""
    return hmac.new(pii_key().encode(), value.encode(), hashlib.sha256).hexdigest()


def pgoptions() -> str:
    """libpq options that give a dbt session the key without writing it into compiled SQL."""
    return f"-c {PG_SETTING}={pii_key()}"
