"""The outbox's state changes: claim a batch under a lease, record its outcome, replay.

A batch is a run of one endpoint's outbox rows, in creation order, sent in one request
whose `webhook-id` is the batch id; the id and the rows stay the same across retries.
Every change is one short transaction, so a worker that dies leaves rows SENDING with a
lease that expires; the next run records the lost attempt and takes the batch over.
Per endpoint the oldest unfinished batch goes first: a batch waiting for its retry holds
back the newer ones, which keeps the order and spares an endpoint that is failing.
"""

from __future__ import annotations

import json
import secrets as _secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pulse.webhooks.endpoints import Endpoint, EndpointError
from pulse.webhooks.retry import retry_delay
from pulse.webhooks.settings import WebhookSettings

LEASE_LOST = "lease expired: the worker stopped before recording an outcome"


@dataclass(frozen=True)
class Batch:
    batch_id: str
    endpoint_id: str
    attempt: int
    message_ids: list[str]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int | None
    error: str | None
    retry_after: timedelta | None = None
    refused: bool = False  # the URL guard refused the address; nothing was sent

    @property
    def success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def due_endpoints(cur, now: datetime) -> list[Endpoint]:
    """Enabled endpoints with something to send now."""
    from pulse.webhooks.endpoints import ENDPOINT_COLUMNS

    cur.execute(
        f"select {ENDPOINT_COLUMNS} from delivery.endpoints e where enabled and exists ("
        "  select 1 from delivery.outbox o where o.endpoint_id = e.endpoint_id and ("
        "    o.status = 'PENDING'"
        "    or (o.status = 'RETRYING' and o.next_attempt_at <= %(now)s)"
        "    or (o.status = 'SENDING' and o.lease_expires_at <= %(now)s)))"
        " order by endpoint_id", {"now": now})
    return [Endpoint(*row) for row in cur.fetchall()]


# New batches claimed in one transaction at most: fewer round trips (and waits for the
# previous claim's outcomes to be recorded) per request, and a worker that dies holds at
# most this many batches until their lease expires (docs/delivery.md).
MAX_PREFETCH_BATCHES = 50


def prefetch_batches(send_interval: float, settings: WebhookSettings) -> int:
    """How many new batches one claim takes: as many as the endpoint's rate limit lets its
    worker send within half the lease, so that no claimed batch waits for a send slot
    until its lease runs out (and another run takes it over); between 1 and
    MAX_PREFETCH_BATCHES."""
    fits = int(settings.lease.total_seconds() / 2 / send_interval)
    return max(1, min(MAX_PREFETCH_BATCHES, fits))


CLAIM_NEW = """
with locked as (
    select message_id, seq from delivery.outbox
    where endpoint_id = %(endpoint)s and status = 'PENDING'
    order by seq limit %(limit)s for update
), pick as (
    select message_id, (row_number() over (order by seq) - 1) / %(max_batch)s as n
    from locked
), claimed as (
    update delivery.outbox o set status = 'SENDING', attempt = 1,
        batch_id = %(prefix)s || pick.n, lease_expires_at = %(lease)s, updated_at = now()
    from pick where o.endpoint_id = %(endpoint)s and o.message_id = pick.message_id
    returning o.message_id, o.batch_id, o.attempt, o.seq
)
"""

CLAIM_AGAIN = """
with claimed as (
    update delivery.outbox set status = 'SENDING', attempt = attempt + 1,
        lease_expires_at = %(lease)s, next_attempt_at = null, updated_at = now()
    where endpoint_id = %(endpoint)s and batch_id = %(batch)s
    returning message_id, batch_id, attempt, seq
)
"""

EVENTS = """
select c.batch_id, c.attempt, m.message_id, m.event_type, m.tenant_id, m.user_id,
       m.announced_on, m.created_at, m.payload
from claimed c join delivery.messages m using (message_id) order by c.seq
"""


def claim(conn, endpoint_id: str, now: datetime, settings: WebhookSettings,
          max_batch: int, prefetch: int = 1) -> list[Batch]:
    """Take the endpoint's next batches (SENDING, leased until now + lease), oldest first:
    the unfinished one if it is due, else up to `prefetch` new ones (prefetch_batches)."""
    with conn, conn.cursor() as cur:
        # One claimer per endpoint at a time, whichever process it runs in.
        cur.execute(
            "select h.batch_id, h.status, h.attempt, h.next_attempt_at, h.lease_expires_at "
            "from delivery.endpoints e left join lateral ("
            "  select batch_id, status, attempt, next_attempt_at, lease_expires_at "
            "  from delivery.outbox where endpoint_id = e.endpoint_id "
            "  and status in ('SENDING', 'RETRYING') order by seq limit 1) h on true "
            "where e.endpoint_id = %s and e.enabled for update of e skip locked",
            (endpoint_id,))
        head = cur.fetchone()
        if head is None:
            return []  # disabled, or another process is claiming for it
        params = {"endpoint": endpoint_id, "lease": now + settings.lease}
        batch_id, status, attempt, next_at, lease_expires = head
        if batch_id is not None:
            if status == "SENDING" and lease_expires > now:
                return []  # another worker is sending it
            if status == "RETRYING" and next_at > now:
                return []  # the oldest batch waits for its retry: keep the order
            if status == "SENDING":
                _record_attempts(cur, batch_id, endpoint_id, attempt,
                                 Outcome(None, None, LEASE_LOST))
                if retry_delay(attempt, settings) is None:
                    _finish(cur, batch_id, endpoint_id, attempt, "ABANDONED",
                            Outcome(None, None, LEASE_LOST))
                    conn.commit()
                    return claim(conn, endpoint_id, now, settings, max_batch, prefetch)
            cur.execute(CLAIM_AGAIN + EVENTS, {**params, "batch": batch_id})
        else:
            cur.execute(CLAIM_NEW + EVENTS, {
                **params, "max_batch": max_batch, "limit": max_batch * prefetch,
                "prefix": "msg_" + _secrets.token_hex(10) + "_"})
        rows = cur.fetchall()
    batches: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    for batch, att, *event in rows:
        batches.setdefault(batch, (att, []))[1].append(_event(*event))
    return [Batch(b, endpoint_id, att, [e["id"] for e in events],
                  json.dumps({"type": "batch", "batch_id": b, "events": events},
                             separators=(",", ":"), default=str).encode())
            for b, (att, events) in batches.items()]


def _event(message_id: str, event_type: str, tenant_id: str, user_id: str | None,
           announced_on: Any, created_at: datetime, payload: dict) -> dict[str, Any]:
    # The envelope of one event inside a batch (docs/delivery.md's webhook payload, trimmed).
    return {"id": message_id, "type": event_type, "tenant_id": tenant_id,
            "user_id": user_id, "day": announced_on.isoformat(),
            "created_at": created_at.isoformat(), "data": payload}


def record_many(conn, results: list[tuple[Batch, Outcome]], now: datetime,
                settings: WebhookSettings) -> list[str]:
    """`record` for several requests in one transaction and (mostly) one round trip:
    at hundreds of requests a second, one commit per request is the bottleneck."""
    statuses: list[str] = []
    # An endpoint's successes in one group set the same two columns to the same values:
    # one update, at its last success (a failure after it still comes after it).
    last_success = {batch.endpoint_id: i for i, (batch, outcome) in enumerate(results)
                    if outcome.success}
    with conn, conn.cursor() as cur:
        statements: list[bytes] = []
        for i, (batch, outcome) in enumerate(results):
            statements.append(_attempts_sql(cur, batch.batch_id, batch.endpoint_id,
                                            batch.attempt, outcome))
            if outcome.success:
                status = "SUCCESS"
                if last_success[batch.endpoint_id] == i:
                    statements.append(cur.mogrify(
                        "update delivery.endpoints set failing_since = null, "
                        "last_success_at = %s where endpoint_id = %s", (now, batch.endpoint_id)))
            elif outcome.status_code == 410 or outcome.refused:
                status = "FAILED"
                reason = "refused_url" if outcome.refused else "gone"
                detail = outcome.error if outcome.refused else "the endpoint answered 410 Gone"
                _disable(cur, batch.endpoint_id, reason, detail)
            else:
                delay = retry_delay(batch.attempt, settings)
                if delay is not None and outcome.retry_after is not None:
                    delay = max(delay, outcome.retry_after)
                status = "ABANDONED" if delay is None else "RETRYING"
                _note_failure(cur, batch.endpoint_id, now, settings)
            next_at = now + delay if status == "RETRYING" else None
            statements.append(_finish_sql(cur, batch.batch_id, batch.endpoint_id,
                                          batch.attempt, status, outcome, next_at))
            statuses.append(status)
        cur.execute(b";".join(statements))
    return statuses


def release(conn, batches: list[Batch]) -> None:
    """Give claimed batches that were not sent back to PENDING (same order, no attempt):
    an earlier batch of the endpoint failed, and newer ones wait behind it."""
    if not batches:
        return
    with conn, conn.cursor() as cur:
        cur.execute("update delivery.outbox set status = 'PENDING', batch_id = null, "
                    "attempt = 0, lease_expires_at = null, updated_at = now() "
                    "where endpoint_id = %s and batch_id = any(%s) and status = 'SENDING'",
                    (batches[0].endpoint_id, [b.batch_id for b in batches]))


def _record_attempts(cur, batch_id: str, endpoint_id: str, attempt: int,
                     outcome: Outcome) -> None:
    cur.execute(_attempts_sql(cur, batch_id, endpoint_id, attempt, outcome))


def _attempts_sql(cur, batch_id: str, endpoint_id: str, attempt: int,
                  outcome: Outcome) -> bytes:
    return cur.mogrify(
        "insert into delivery.attempts (batch_id, message_id, endpoint_id, attempt_number, "
        "status, response_code, duration_ms, error) "
        "select %s, message_id, endpoint_id, %s, %s, %s, %s, %s from delivery.outbox "
        "where endpoint_id = %s and batch_id = %s",
        (batch_id, attempt, "SUCCESS" if outcome.success else "FAILED", outcome.status_code,
         outcome.duration_ms, outcome.error, endpoint_id, batch_id))


def _finish(cur, batch_id: str, endpoint_id: str, attempt: int, status: str,
            outcome: Outcome, next_at: datetime | None = None) -> None:
    cur.execute(_finish_sql(cur, batch_id, endpoint_id, attempt, status, outcome, next_at))


def _finish_sql(cur, batch_id: str, endpoint_id: str, attempt: int, status: str,
                outcome: Outcome, next_at: datetime | None) -> bytes:
    # `attempt = %s`: a worker overtaken after its lease expired must not overwrite
    # the outcome of the attempt that took over.
    return cur.mogrify(
        "update delivery.outbox set status = %s, lease_expires_at = null, "
        "next_attempt_at = %s, response_code = %s, duration_ms = %s, last_error = %s, "
        "updated_at = now() where endpoint_id = %s and batch_id = %s and attempt = %s "
        "and status = 'SENDING'",
        (status, next_at, outcome.status_code, outcome.duration_ms, outcome.error,
         endpoint_id, batch_id, attempt))


def _note_failure(cur, endpoint_id: str, now: datetime, settings: WebhookSettings) -> None:
    cur.execute("update delivery.endpoints set failing_since = coalesce(failing_since, %s) "
                "where endpoint_id = %s returning failing_since", (now, endpoint_id))
    row = cur.fetchone()
    if row and now - row[0] >= timedelta(days=settings.disable_after_days):
        _disable(cur, endpoint_id, "failing",
                 f"every delivery failed since {row[0]:%Y-%m-%d %H:%M} UTC "
                 f"({settings.disable_after_days:g} days or more in a row)")


def _disable(cur, endpoint_id: str, reason: str, detail: str | None) -> None:
    cur.execute("update delivery.endpoints set enabled = false, disabled_reason = %s, "
                "disabled_detail = %s, disabled_at = now() where endpoint_id = %s and enabled",
                (reason, detail, endpoint_id))


def replay(conn, *, message_id: str | None = None, endpoint_id: str | None = None,
           abandoned: bool = False) -> int:
    """Queue messages again (new batches, new webhook-ids); returns how many rows."""
    if message_id is None and not (endpoint_id and abandoned):
        raise EndpointError("replay a message (MESSAGE_ID) or an endpoint's abandoned ones "
                            "(--endpoint ID --abandoned)")
    with conn, conn.cursor() as cur:
        if endpoint_id is not None:
            cur.execute("select enabled from delivery.endpoints where endpoint_id = %s",
                        (endpoint_id,))
            row = cur.fetchone()
            if row is None:
                raise EndpointError(f"no endpoint {endpoint_id}: see "
                                    "`pulse webhooks endpoints list`")
            if not row[0]:
                raise EndpointError(f"endpoint {endpoint_id} is disabled: enable it first "
                                    f"(`pulse webhooks endpoints enable {endpoint_id}`)")
        where = ["(%(endpoint)s::text is null or endpoint_id = %(endpoint)s)"]
        if message_id is not None:
            cur.execute("select 1 from delivery.messages where message_id = %s", (message_id,))
            if cur.fetchone() is None:
                raise EndpointError(f"no message {message_id} in delivery.messages")
            where.append("message_id = %(message)s")
            where.append("status in ('SUCCESS', 'FAILED', 'ABANDONED')")
        if abandoned:
            where.append("status = 'ABANDONED'")
        cur.execute(
            "update delivery.outbox set status = 'PENDING', batch_id = null, attempt = 0, "
            "next_attempt_at = null, lease_expires_at = null, updated_at = now() "
            "where " + " and ".join(where),
            {"endpoint": endpoint_id, "message": message_id})
        return cur.rowcount
