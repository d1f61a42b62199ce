"""Whether a night's dbt build has anything to do (docs/incremental.md "A night with
nothing new").

The models are functions of the raw sources and of the project's code alone (no model
reads the clock), so a build is skipped when, since the last build that succeeded:
- no statement changed a raw source table (raw.source_changes, written by triggers:
  sql/migrations/0017_source_changes.sql);
- the dbt project and the raw DDL are the same files;
- the relations dbt builds are still all there (a schema dropped by hand is rebuilt).

What scoring and webhook delivery write (the ml and delivery sources) is not read here:
the nightly run rebuilds what reads those after scoring (`orchestration.SCORE_READERS`).

`plan()` runs before the build and `record()` after it succeeds; a build that fails or
never records leaves its changes pending, so the next night builds again.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

from pulse.config import settings
from pulse.warehouse import transaction

# What in dbt_project/ decides what a build writes; target/ and logs/ are dbt's output.
_PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "macros", "models", "seeds",
                  "snapshots", "tests", "analyses")
# The raw tables declared as dbt sources, each with the change triggers of migration 0017.
RAW_SOURCES = ("events", "accounts", "users", "rejected_events", "held_events", "load_ledger")
# The schemas dbt builds into (dbt_project.yml `+schema`, the snapshots' schema, and the
# target's own schema for anything without one).
DBT_SCHEMAS = ("staging", "intermediate", "marts", "reference", "snapshots", "analytics")

_ENV_VAR = re.compile(r"env_var\(\s*['\"]([A-Za-z0-9_]+)['\"]")
_CONNECTION = {"PULSE_PG_HOST", "PULSE_PG_PORT", "PULSE_PG_USER", "PULSE_PG_PASSWORD",
               "PULSE_PG_DBNAME"}

_RELATIONS_MD5 = """
select md5(coalesce(string_agg(n.nspname || '.' || c.relname, ',' order by n.nspname,
                                c.relname), ''))
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm') and not c.relispartition
"""


@dataclass(frozen=True)
class Plan:
    """`build_id` is None when there is nothing to build; `reason` says why either way."""

    build_id: int | None
    reason: str

    @property
    def build(self) -> bool:
        return self.build_id is not None


def project_sha256() -> str:
    """One digest of what decides what dbt builds: the dbt project's files, the raw DDL its
    sources are made by, and the environment variables the project reads (the target's
    name among them)."""
    s = settings()
    digest = hashlib.sha256()
    files = [p for part in _PROJECT_PARTS for p in
             ([s.dbt_project_dir / part] if (s.dbt_project_dir / part).is_file()
              else sorted((s.dbt_project_dir / part).rglob("*")))]
    files += sorted((s.sql_dir / "migrations").glob("*.sql"))
    read: set[str] = set()
    for path in files:
        if path.is_file():
            text = path.read_bytes()
            digest.update(str(path.relative_to(s.dbt_project_dir.parent)).encode())
            digest.update(b"\0" + text + b"\0")
            read.update(_ENV_VAR.findall(text.decode("utf-8", "replace")))
    # What the project reads from the environment decides what it builds too (a
    # threshold), but not where it connects (the profile's PULSE_PG_*, passwords
    # included, which stay out of the digest).
    from pulse.orchestration import dbt_env

    seen_by_dbt = {**os.environ, **dbt_env()}
    for name in sorted(read - _CONNECTION):
        digest.update(f"{name}={seen_by_dbt.get(name)}\0".encode())
    return digest.hexdigest()


def _relations_md5(cur) -> str:
    cur.execute(_RELATIONS_MD5, (list(DBT_SCHEMAS),))
    return cur.fetchone()[0]


def plan() -> Plan:
    """Decide, and when there is something to build, record the build about to start
    with the changes it will have read."""
    project = project_sha256()
    with transaction() as conn, conn.cursor() as cur:
        cur.execute("select change_id, source_table from raw.source_changes"
                    " where consumed_by is null order by change_id")
        pending = cur.fetchall()
        cur.execute("select project_sha256, relations_md5 from raw.dbt_builds"
                    " where finished_at is not null order by build_id desc limit 1")
        last = cur.fetchone()
        cur.execute("select count(*) from pg_trigger where tgname = 'source_change_insert'"
                    " and tgrelid = any(%s::regclass[])",
                    ([f"raw.{t}" for t in RAW_SOURCES],))
        if last is None:
            reason = "no build has succeeded yet"
        elif cur.fetchone()[0] < len(RAW_SOURCES):
            # Citus (migration 0017 leaves its tables alone), or a trigger dropped by hand
            reason = "changes to the raw sources are not tracked here: every night builds"
        elif last[0] != project:
            reason = "the dbt project or the raw DDL changed"
        elif last[1] != _relations_md5(cur):
            reason = "relations dbt builds were dropped or added outside a build"
        elif pending:
            tables = sorted({table for _, table in pending})
            reason = f"{len(pending)} change(s) to {', '.join(tables)}"
        else:
            return Plan(None, "nothing changed since the last build")
        cur.execute("insert into raw.dbt_builds (reason, project_sha256, change_ids)"
                    " values (%s, %s, %s) returning build_id",
                    (reason, project, [change_id for change_id, _ in pending]))
        return Plan(cur.fetchone()[0], reason)


def record(build_id: int) -> None:
    """The build planned as `build_id` succeeded: its changes are consumed."""
    with transaction() as conn, conn.cursor() as cur:
        cur.execute("update raw.dbt_builds set finished_at = clock_timestamp(),"
                    " relations_md5 = %s where build_id = %s returning change_ids",
                    (_relations_md5(cur), build_id))
        row = cur.fetchone()
        if row is None:
            raise ValueError(f"no planned dbt build {build_id} in raw.dbt_builds")
        cur.execute("update raw.source_changes set consumed_by = %s"
                    " where change_id = any(%s) and consumed_by is null", (build_id, row[0]))

