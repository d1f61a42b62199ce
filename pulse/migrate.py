"""Apply the raw-layer DDL in sql/migrations/ in order, once each.

Each file runs in its own transaction and is recorded with its checksum in
raw.schema_migrations; running `pulse migrate` again is a no-op. An applied file whose
text changed is an error: schema history is append-only. Warnings a migration raises (e.g.
roles it may not create, docs/roles.md) are passed on to the log. Afterwards any webhook
secret still stored in plaintext is encrypted (pulse/webhooks/secret_store.py).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from pulse.config import settings
from pulse.warehouse import WarehouseError, connection

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same for every process that migrates.
LOCK_KEY = 7_315_001
# Texts a migration had when it shipped, before an edit to its comments only (the SQL it
# runs is the same). A warehouse that applied one of them is up to date, not tampered with;
# its recorded checksum is brought up to the current text. Add to this only for comments.
FORMER_COMMENT_ONLY_TEXTS: dict[int, frozenset[str]] = {
    # e5d148f: a comment cited a design document outside the repository; it cites docs/.
    4: frozenset({"596fedae58df92bd27540b5ef63d63c19434b962681aeb6cbe4f32c323a14a7f"}),
}


@dataclass(frozen=True)
class Migration:
    version: int
    path: Path

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(folder: Path | None = None) -> list[Migration]:
    folder = folder or settings().sql_dir / "migrations"
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        m = MIGRATION_NAME.match(path.name)
        if not m:
            raise WarehouseError(f"{path} is not named NNNN_description.sql")
        found.append(Migration(int(m.group(1)), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise WarehouseError(f"Two migrations share a number in {folder}: {versions}")
    return found


def apply(folder: Path | None = None, log=print) -> list[str]:
    """Apply pending migrations; returns the names applied now."""
    migrations = discover(folder)
    applied_now: list[str] = []
    with connection() as conn:
        # the migrations commit as one; the secrets' encryption then runs its own steps
        with conn, conn.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            cur.execute("create schema if not exists raw")
            cur.execute(
                """create table if not exists raw.schema_migrations (
                       version    integer primary key,
                       name       text not null,
                       sha256     text not null,
                       applied_at timestamptz not null default now())"""
            )
            cur.execute("select version, name, sha256 from raw.schema_migrations")
            done = {v: (name, sha) for v, name, sha in cur.fetchall()}
            for mig in migrations:
                if mig.version in done:
                    name, sha = done[mig.version]
                    if sha in FORMER_COMMENT_ONLY_TEXTS.get(mig.version, ()):
                        cur.execute("update raw.schema_migrations set sha256 = %s "
                                    "where version = %s", (mig.sha256, mig.version))
                        log(f"{mig.path.name}: checksum updated after a comment-only edit")
                        continue
                    if sha != mig.sha256:
                        raise WarehouseError(
                            f"{mig.path.name} was applied as {name} with another text. Applied "
                            "migrations must not change: revert the edit and add a new "
                            f"numbered file after {migrations[-1].path.name}."
                        )
                    continue
                cur.execute(mig.path.read_text(encoding="utf-8"))
                cur.execute(
                    "insert into raw.schema_migrations (version, name, sha256) "
                    "values (%s, %s, %s)",
                    (mig.version, mig.path.name, mig.sha256),
                )
                applied_now.append(mig.path.name)
                log(f"applied {mig.path.name}")
                for notice in conn.notices:
                    if notice.startswith("WARNING"):
                        log(notice.strip())
                conn.notices.clear()
        _encrypt_plaintext_secrets(conn, log)
    return applied_now


def _encrypt_plaintext_secrets(conn, log) -> None:
    from pulse.webhooks.secret_store import encrypt_plaintext

    with conn.cursor() as cur:
        cur.execute("select 1 from information_schema.columns where table_schema = "
                    "'delivery' and table_name = 'endpoint_secrets' and column_name = "
                    "'secret_encrypted'")
        present = cur.fetchone() is not None
    conn.rollback()
    if present:
        n = encrypt_plaintext(conn)
        if n:
            log(f"encrypted {n} webhook signing secret(s) stored in plaintext")
