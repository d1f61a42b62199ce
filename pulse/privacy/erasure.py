"""Erasure (GDPR art. 17): remove a user, or a whole tenant, from every layer.

A request is recorded in privacy.erasure_requests with the subject as keyed hashes only
(pulse.privacy.keys), then applied: every table of every Pulse schema is visited (found in
the catalog, so a new table is covered without a list to update), the subject's rows are
deleted, and references to the user in other people's rows are replaced. Landing files
are immutable, so the loader asks `Suppressor` (pulse.privacy.suppression) which lines to
leave out on any later load or reload; a `dbt build --full-refresh` rebuilds from raw,
where nothing of the subject is left. See docs/privacy.md.

Over 300 lines on purpose: recording, applying and verifying a request share one walk of
the catalog (relations and their predicates); split apart, each would re-derive it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg2 import sql

from pulse.privacy.keys import keyed_hash

# the loader imports these from here
from pulse.privacy.suppression import (  # noqa: F401
    ERASED,
    Suppressed,
    Suppressor,
    suppressor_of,
)
from pulse.warehouse import transaction

# Schemas that hold no warehouse data about anyone: the catalog, and the erasure records
# themselves (hashes only).
SKIPPED_SCHEMAS = ("pg_catalog", "information_schema", "privacy")
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "ARRAY")
# Whose row it is, where no user_id column says so.
OWNER_EXPRESSIONS = {("raw", "events"): "payload ->> 'user_id'"}
# Rows that hang off a deleted row by key, deleted first (delivery.attempts has no FK).
DEPENDENTS: dict[tuple[str, str], list[tuple[str, str, str]]] = {
    ("delivery", "messages"): [("delivery", "outbox", "message_id"),
                               ("delivery", "attempts", "message_id")],
    ("delivery", "endpoints"): [("delivery", "outbox", "endpoint_id"),
                                ("delivery", "attempts", "endpoint_id"),
                                ("delivery", "endpoint_secrets", "endpoint_id")],
}
# An incremental tenant-level aggregate and the user-level table its run window reads:
# erasing a user drops the aggregate's rows from the user's first day, so the next
# nightly build recomputes them without the user.
RECOMPUTED_AGGREGATES = (
    (("marts", "fct_daily_tenant_activity"), ("marts", "fct_daily_user_activity"),
     "activity_date"),
)


class ErasureError(ValueError):
    """A request that cannot be carried out; the message says what to do."""


@dataclass(frozen=True)
class Subject:
    tenant_id: str
    user_id: str | None = None

    @property
    def scope(self) -> str:
        return "tenant" if self.user_id is None else "user"

    @property
    def tenant_hash(self) -> str:
        return keyed_hash(self.tenant_id)

    @property
    def user_hash(self) -> str | None:
        return None if self.user_id is None else keyed_hash(self.user_id)

    @property
    def needle(self) -> str:
        """The string whose presence in a column is a trace of the subject."""
        return self.user_id if self.user_id is not None else self.tenant_id

    def describe(self) -> str:
        return (f"tenant {self.tenant_id}" if self.user_id is None
                else f"user {self.user_id} of tenant {self.tenant_id}")


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    kind: str  # BASE TABLE | VIEW | MATERIALIZED VIEW
    columns: tuple[str, ...]
    text_columns: tuple[str, ...]

    @property
    def ident(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"


def relations(cur, kinds: Iterable[str] = ("BASE TABLE",)) -> list[Relation]:
    """Every relation of the given kinds outside SKIPPED_SCHEMAS, with its columns."""
    cur.execute(
        """
        select n.nspname, c.relname,
               case c.relkind when 'r' then 'BASE TABLE' when 'p' then 'BASE TABLE'
                              when 'v' then 'VIEW' when 'm' then 'MATERIALIZED VIEW' end,
               array_agg(a.attname::text order by a.attnum),
               array_agg(a.attname::text order by a.attnum) filter (
                   where t.typcategory in ('S', 'A') or t.typname in ('json', 'jsonb'))
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        join pg_type t on t.oid = a.atttypid
        where c.relkind in ('r', 'p', 'v', 'm')
          and n.nspname <> all(%s) and n.nspname not like 'pg\\_%%'
          and not c.relispartition
        group by 1, 2, 3
        order by 1, 2
        """,
        (list(SKIPPED_SCHEMAS),),
    )
    wanted = set(kinds)
    return [Relation(s, n, k, tuple(cols), tuple(text or ()))
            for s, n, k, cols, text in cur.fetchall() if k in wanted]


def _contains(rel: Relation, needle: str) -> sql.Composable:
    """Any text-like column of the row holds `needle`."""
    parts = [sql.SQL("strpos({}::text, {}) > 0").format(sql.Identifier(c), sql.Literal(needle))
             for c in rel.text_columns]
    return sql.SQL("(") + sql.SQL(" or ").join(parts) + sql.SQL(")")


def _owner(rel: Relation) -> sql.Composable | None:
    expr = OWNER_EXPRESSIONS.get((rel.schema, rel.name))
    if expr is not None:
        return sql.SQL(expr)
    return sql.Identifier("user_id") if "user_id" in rel.columns else None


def _tenant_filter(rel: Relation, subject: Subject) -> sql.Composable:
    # a null tenant: a quarantined line whose tenant could not be read, maybe the subject's
    if "tenant_id" in rel.columns:
        return sql.SQL("(tenant_id = {} or tenant_id is null)").format(
            sql.Literal(subject.tenant_id))
    return sql.SQL("true")


def trace_predicate(rel: Relation, subject: Subject) -> sql.Composable | None:
    """Rows of `rel` that hold a trace of the subject; None when it has no text column."""
    if not rel.text_columns:
        return None
    return sql.SQL("{} and {}").format(_tenant_filter(rel, subject),
                                       _contains(rel, subject.needle))


# --- applying a request ---------------------------------------------------------------

def _delete(cur, rel: Relation, where: sql.Composable, counts: dict[str, int],
            by_label: dict[str, Relation]) -> None:
    for schema, name, key in DEPENDENTS.get((rel.schema, rel.name), []):
        child = by_label.get(f"{schema}.{name}")
        if child is None:
            continue
        cur.execute(sql.SQL("delete from {} where {} in (select {} from {} where {})").format(
            child.ident, sql.Identifier(key), sql.Identifier(key), rel.ident, where))
        if cur.rowcount:
            counts[child.label] = counts.get(child.label, 0) + cur.rowcount
    cur.execute(sql.SQL("delete from {} where {}").format(rel.ident, where))
    if cur.rowcount:
        counts[rel.label] = counts.get(rel.label, 0) + cur.rowcount


def _replace_references(cur, rel: Relation, subject: Subject, counts: dict[str, int]) -> None:
    """Someone else's row that names the user (e.g. invited_by) keeps its row, not the id."""
    assert subject.user_id is not None
    sets = []
    for col in rel.text_columns:
        if col in ("tenant_id", "user_id"):
            continue
        sets.append(sql.SQL("{c} = replace({c}::text, {u}, {e})::{t}").format(
            c=sql.Identifier(col), u=sql.Literal(subject.user_id), e=sql.Literal(ERASED),
            t=sql.SQL(_type_of(cur, rel, col))))
    if not sets:
        return
    cur.execute(sql.SQL("update {} set {} where {}").format(
        rel.ident, sql.SQL(", ").join(sets), trace_predicate(rel, subject)))
    if cur.rowcount:
        key = f"{rel.label} (references replaced)"
        counts[key] = counts.get(key, 0) + cur.rowcount


def _type_of(cur, rel: Relation, column: str) -> str:
    # format_type's output is a type name PostgreSQL wrote, safe to splice into SQL
    cur.execute("select format_type(atttypid, atttypmod) from pg_attribute"
                " where attrelid = %s::regclass and attname = %s",
                (f'"{rel.schema}"."{rel.name}"', column))
    return cur.fetchone()[0]


def _drop_aggregate_days(cur, subject: Subject, by_label: dict[str, Relation],
                         counts: dict[str, int]) -> None:
    for (agg_s, agg_n), (src_s, src_n), day_col in RECOMPUTED_AGGREGATES:
        if f"{agg_s}.{agg_n}" not in by_label or f"{src_s}.{src_n}" not in by_label:
            continue
        cur.execute(sql.SQL(
            "delete from {agg} where tenant_id = %s and {day} >= (select min({day}) from {src}"
            " where tenant_id = %s and user_id = %s)").format(
                agg=sql.Identifier(agg_s, agg_n), src=sql.Identifier(src_s, src_n),
                day=sql.Identifier(day_col)),
            (subject.tenant_id, subject.tenant_id, subject.user_id))
        if cur.rowcount:
            counts[f"{agg_s}.{agg_n} (days to recompute)"] = cur.rowcount


def remove(cur, subject: Subject) -> dict[str, int]:
    """Delete the subject from every table; returns rows removed per table."""
    rels = relations(cur)
    by_label = {r.label: r for r in rels}
    counts: dict[str, int] = {}
    if subject.user_id is not None:
        _drop_aggregate_days(cur, subject, by_label, counts)
    for rel in rels:
        owner = _owner(rel)
        if subject.user_id is None:
            if "tenant_id" in rel.columns:
                where: sql.Composable | None = sql.SQL("tenant_id = {}").format(
                    sql.Literal(subject.tenant_id))
                if rel.text_columns:
                    where = sql.SQL("({} or (tenant_id is null and {}))").format(
                        where, _contains(rel, subject.needle))
            else:
                where = trace_predicate(rel, subject)
            if where is not None:
                _delete(cur, rel, where, counts, by_label)
        elif owner is not None:
            _delete(cur, rel, sql.SQL("{} and {} = {}").format(
                _tenant_filter(rel, subject), owner, sql.Literal(subject.user_id)),
                counts, by_label)
            if rel.text_columns:
                _replace_references(cur, rel, subject, counts)
        else:
            where = trace_predicate(rel, subject)
            if where is not None:
                _delete(cur, rel, where, counts, by_label)
    return counts


def _merge(old: dict[str, int], new: dict[str, int]) -> dict[str, int]:
    out = dict(old)
    for k, v in new.items():
        out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def record(cur, subject: Subject) -> int:
    """The request's id; a subject asked for twice keeps its first request."""
    cur.execute(
        "insert into privacy.erasure_requests (scope, tenant_hash, user_hash) values (%s, %s, %s)"
        " on conflict (tenant_hash, coalesce(user_hash, '')) do nothing",
        (subject.scope, subject.tenant_hash, subject.user_hash))
    cur.execute("select request_id from privacy.erasure_requests where tenant_hash = %s"
                " and coalesce(user_hash, '') = %s",
                (subject.tenant_hash, subject.user_hash or ""))
    return cur.fetchone()[0]


def _mark_applied(cur, request_id: int, counts: dict[str, int]) -> None:
    cur.execute("select row_counts from privacy.erasure_requests where request_id = %s",
                (request_id,))
    merged = _merge(cur.fetchone()[0] or {}, counts)
    cur.execute("update privacy.erasure_requests set applied_at = clock_timestamp(),"
                " row_counts = %s where request_id = %s", (json.dumps(merged), request_id))


@dataclass
class Outcome:
    request_id: int
    subject: Subject
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "scope": self.subject.scope,
                "rows_removed": sum(self.counts.values()), "by_table": self.counts}


def erase(subject: Subject, apply_now: bool = True) -> Outcome:
    """Record the request and, unless deferred to the nightly run, apply it at once, in
    one transaction."""
    with transaction() as conn, conn.cursor() as cur:
        _require_schema(cur)
        request_id = record(cur, subject)
        outcome = Outcome(request_id, subject)
        if apply_now:
            outcome.counts = remove(cur, subject)
            _mark_applied(cur, request_id, outcome.counts)
    return outcome


def _require_schema(cur) -> None:
    cur.execute("select to_regclass('privacy.erasure_requests') is not null")
    if not cur.fetchone()[0]:
        raise ErasureError("the privacy schema is missing: run `pulse migrate` first")


def _candidates(cur, tenant_hash: str, user_hash: str | None) -> list[Subject]:
    """Clear ids whose hashes match a pending request, from what raw still holds."""
    cur.execute("select tenant_id from raw.accounts union select distinct tenant_id"
                " from raw.events")
    tenants = [t for (t,) in cur.fetchall() if keyed_hash(t) == tenant_hash]
    if user_hash is None:
        return [Subject(t) for t in tenants]
    found = []
    for tenant in tenants:
        cur.execute("select distinct payload ->> 'user_id' from raw.events where tenant_id = %s",
                    (tenant,))
        found += [Subject(tenant, u) for (u,) in cur.fetchall()
                  if u is not None and keyed_hash(u) == user_hash]
    return found


def apply_pending(log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Apply every request recorded but not yet applied (`erase --at-next-run`): the
    subject is found by hashing the ids raw holds, since the request keeps no clear id."""
    done: list[dict[str, Any]] = []
    with transaction() as conn, conn.cursor() as cur:
        _require_schema(cur)
        cur.execute("select request_id, tenant_hash, user_hash from privacy.erasure_requests"
                    " where applied_at is null order by request_id for update")
        pending = cur.fetchall()
        for request_id, tenant_hash, user_hash in pending:
            counts: dict[str, int] = {}
            for subject in _candidates(cur, tenant_hash, user_hash):
                counts = _merge(counts, remove(cur, subject))
            _mark_applied(cur, request_id, counts)
            log(f"erasure request {request_id}: {sum(counts.values())} row(s) removed")
            done.append({"request_id": request_id, "by_table": counts})
    return done


# --- verification ---------------------------------------------------------------------

def traces(subject: Subject) -> dict[str, int]:
    """Rows per relation (tables, views, materialized views) that still hold the subject."""
    found: dict[str, int] = {}
    with transaction() as conn, conn.cursor() as cur:
        for rel in relations(cur, ("BASE TABLE", "VIEW", "MATERIALIZED VIEW")):
            where = trace_predicate(rel, subject)
            if where is None:
                continue
            cur.execute(sql.SQL("select count(*) from {} where {}").format(rel.ident, where))
            n = cur.fetchone()[0]
            if n:
                found[rel.label] = n
    return found
