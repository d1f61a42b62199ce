"""Send what is due: every enabled endpoint's batches, signed, many requests at once.

One worker per endpoint sends that endpoint's batches one after the other, in creation
order and no faster than its rate limit; workers run side by side, at most
PULSE_WEBHOOK_CONCURRENCY requests in flight. A 2xx is a success; anything else (a
redirect included: redirects are never followed), a timeout or a refused connection is
retried on the schedule in `retry.py`. Nothing here logs a secret, a header or a body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from psycopg2.pool import ThreadedConnectionPool

from pulse.config import settings as pulse_settings
from pulse.webhooks import signing, store
from pulse.webhooks.endpoints import Endpoint, live_secrets
from pulse.webhooks.retry import parse_retry_after
from pulse.webhooks.settings import WebhookSettings, webhook_settings
from pulse.webhooks.urlguard import Resolver, Target, UrlRefused, check_url, system_resolver

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DB_CONNECTIONS = 6


def utcnow() -> datetime:
    return datetime.now(UTC)


def deliver_due(*, clock: Clock = utcnow, settings: WebhookSettings | None = None,
                resolve: Resolver = system_resolver) -> dict[str, int]:
    """Send every batch due now; returns counts (what the DAG task shows)."""
    settings = settings or webhook_settings()
    return asyncio.run(_deliver(clock, settings, resolve))


class _Db:
    """psycopg2 connections used from worker threads, so the event loop never blocks."""

    def __init__(self, size: int) -> None:
        dsn = pulse_settings().warehouse().dsn()
        self.pool = ThreadedConnectionPool(1, size, dsn, application_name="pulse-webhooks")
        self.slots = asyncio.Semaphore(size)

    async def run(self, fn, *args):
        async with self.slots:
            return await asyncio.to_thread(self._call, fn, *args)

    def _call(self, fn, *args):
        conn = self.pool.getconn()
        try:
            return fn(conn, *args)
        finally:
            self.pool.putconn(conn)

    def close(self) -> None:
        self.pool.closeall()


class _Recorder:
    """Records outcomes in groups: whatever finished while the previous group was being
    written goes into the next transaction. A worker waits until its outcome is
    committed before it sends anything else, so a crash loses no recorded success."""

    def __init__(self, db: _Db, clock: Clock, settings: WebhookSettings) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def record(self, batch: store.Batch, outcome: store.Outcome) -> str:
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        await self.queue.put((batch, outcome, done))
        return await done

    async def _run(self) -> None:
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty() and len(items) < 200:
                items.append(self.queue.get_nowait())
            try:
                statuses = await self.db.run(store.record_many,
                                             [(b, o) for b, o, _ in items],
                                             self.clock(), self.settings)
            except Exception as exc:
                for *_, done in items:
                    done.set_exception(exc)
                continue
            for (*_, done), status in zip(items, statuses, strict=True):
                done.set_result(status)

    def close(self) -> None:
        self.task.cancel()


async def _deliver(clock: Clock, settings: WebhookSettings,
                   resolve: Resolver) -> dict[str, int]:
    db = _Db(DB_CONNECTIONS)
    tally: Counter[str] = Counter()
    try:
        def load(conn):
            with conn, conn.cursor() as cur:
                due = store.due_endpoints(cur, clock())
                return due, live_secrets(cur, [e.endpoint_id for e in due])

        endpoints, secrets = await db.run(load)
        in_flight = asyncio.Semaphore(settings.concurrency)
        recorder = _Recorder(db, clock, settings)
        limits = httpx.Limits(max_connections=settings.concurrency,
                              max_keepalive_connections=settings.concurrency)
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False, limits=limits,
                                     timeout=httpx.Timeout(settings.timeout)) as client:
            await asyncio.gather(*(
                _endpoint_worker(ep, secrets.get(ep.endpoint_id, []), db, recorder, client,
                                 in_flight, clock, settings, resolve, tally)
                for ep in endpoints))
        recorder.close()
    finally:
        db.close()
    tally["endpoints"] = len(endpoints)
    log.info("webhook delivery: %s", dict(tally))
    return dict(tally)


async def _endpoint_worker(ep: Endpoint, secrets: list[signing.Secret], db: _Db,
                           recorder: _Recorder, client: httpx.AsyncClient,
                           in_flight: asyncio.Semaphore,
                           clock: Clock, settings: WebhookSettings, resolve: Resolver,
                           tally: Counter[str]) -> None:
    interval = 1.0 / ep.rate_limit_per_second
    max_batch = ep.max_batch_size or settings.max_batch
    next_slot = time.monotonic()
    target: Target | UrlRefused | None = None
    while True:
        batches = await db.run(store.claim, ep.endpoint_id, clock(), settings, max_batch)
        if not batches:
            return
        for i, batch in enumerate(batches):
            wait = next_slot - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            next_slot = max(next_slot, time.monotonic()) + interval
            if target is None:
                try:
                    target = await asyncio.to_thread(check_url, ep.url, settings, resolve)
                except UrlRefused as exc:
                    target = exc
            if isinstance(target, UrlRefused):
                outcome = store.Outcome(None, None, f"refused: {target}", refused=True)
            else:
                async with in_flight:
                    outcome = await _send(client, target, secrets, batch)
            status = await recorder.record(batch, outcome)
            tally["requests"] += 1
            tally[status.lower()] += len(batch.message_ids)
            if status == "SUCCESS":
                continue
            # Newer batches wait behind a failed one (order), or the endpoint is disabled.
            await db.run(store.release, batches[i + 1:])
            if status == "FAILED":
                log.warning("endpoint %s disabled: %s", ep.endpoint_id,
                            outcome.error or f"HTTP {outcome.status_code}")
                return
            log.info("endpoint %s batch %s attempt %d: %s (%s)", ep.endpoint_id,
                     batch.batch_id, batch.attempt, status,
                     outcome.error or f"HTTP {outcome.status_code}")
            break


async def _send(client: httpx.AsyncClient, target: Target, secrets: list[signing.Secret],
                batch: store.Batch) -> store.Outcome:
    # A fresh timestamp on every attempt; the id stays the batch's.
    headers = signing.headers(secrets, batch.batch_id, int(time.time()), batch.body)
    headers["host"] = target.host_header
    started = time.perf_counter()
    try:
        response = await client.post(target.url, content=batch.body, headers=headers,
                                     extensions={"sni_hostname": target.host})
    except httpx.TimeoutException:
        return store.Outcome(None, _ms(started), "timeout")
    except httpx.HTTPError as exc:
        # The exception's text never holds headers; its class says what went wrong.
        return store.Outcome(None, _ms(started),
                             f"{type(exc).__name__}: {str(exc)[:200] or 'no detail'}")
    duration = _ms(started)
    code = response.status_code
    error = None
    if not 200 <= code < 300:
        error = (f"redirect to {response.headers.get('location', '?')[:200]} (not followed)"
                 if 300 <= code < 400 else f"HTTP {code}")
    retry_after = (parse_retry_after(response.headers.get("retry-after"))
                   if code in (429, 503) else None)
    return store.Outcome(code, duration, error, retry_after)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
