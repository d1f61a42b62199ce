"""Running the cards' SQL against the warehouse as `pulse_analyst` (docs/dashboards.md).

Every card runs with the analyst's rights (SET ROLE in a read-only transaction), so a card
that reads something the analyst may not read fails here, not in front of an analyst.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg2
from psycopg2 import sql

from pulse.dashboards.spec import Card, Dashboard, bind
from pulse.warehouse import connection

ANALYST_ROLE = "pulse_analyst"
STATEMENT_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Filters:
    """The values of the filters a report or check runs with; None leaves a filter open."""

    tenant_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def values(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "date_from": self.date_from,
                "date_to": self.date_to}


@dataclass
class CardResult:
    card: Card
    columns: list[str]
    rows: list[tuple]
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.rows)

    def problem(self) -> str | None:
        if self.error:
            return f"error: {self.error}"
        if not self.rows:
            why = " ".join((self.card.empty_reason or "").split())
            return f"empty result ({why})" if why else "empty result"
        return None


class NoAnalystRole(RuntimeError):
    """The warehouse has no pulse_analyst role (a server where Pulse may not create roles)."""


@contextmanager
def analyst_session(role: str = ANALYST_ROLE) -> Iterator[Any]:
    """A cursor with the analyst's rights, read-only; rolled back at the end."""
    with connection() as conn:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_roles where rolname = %s", (role,))
            if cur.fetchone() is None:
                raise NoAnalystRole(
                    f"the warehouse has no role {role}: an administrator adds it with "
                    "`psql -f sql/migrations/0007_roles.sql` (docs/roles.md)")
            cur.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
            cur.execute("set statement_timeout = %s", (STATEMENT_TIMEOUT_MS,))
            yield cur
        conn.rollback()


def run_card(cur: Any, card: Card, filters: Filters | None = None) -> CardResult:
    """Runs one card; an SQL error is returned in the result (the session goes on)."""
    text, params = bind(card.sql, (filters or Filters()).values())
    started = time.perf_counter()
    cur.execute("savepoint card")
    try:
        cur.execute(text, params)
        rows = cur.fetchall()
        columns = [d.name for d in cur.description]
    except psycopg2.Error as exc:
        cur.execute("rollback to savepoint card")
        message = (exc.pgerror or str(exc)).strip().splitlines()[0]
        return CardResult(card, [], [], time.perf_counter() - started, error=message)
    cur.execute("release savepoint card")
    return CardResult(card, columns, rows, time.perf_counter() - started)


def run_dashboards(dashboards: list[Dashboard], filters: Filters | None = None
                   ) -> list[CardResult]:
    """Every card of every dashboard, in one analyst session."""
    filters = filters or Filters()
    with analyst_session() as cur:
        return [run_card(cur, card, filters) for d in dashboards for card in d.cards]
