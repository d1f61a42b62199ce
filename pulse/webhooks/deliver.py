"""Send what is due: every enabled endpoint's batches, signed, many requests at once.

One worker per endpoint sends that endpoint's batches one after the other, in creation
order and no faster than its rate limit; workers run side by side, at most
PULSE_WEBHOOK_CONCURRENCY requests in flight. A 2xx is a success; anything else (a
redirect included: redirects are never followed), a timeout or a refused connection is
retried on the schedule in `retry.py`. Nothing here logs a secret, a header or a body.

Each request has one deadline for the whole exchange (PULSE_WEBHOOK_TIMEOUT: resolve,
connect, send, answer) and reads at most RESPONSE_CAP bytes of the answer, which it
discards. Connections are pooled per host name, never across names, so a TLS connection
verified for one name is never reused for another on the same address. Whatever goes
wrong in one endpoint's delivery is that attempt's recorded error, never the run's. A run
stops claiming after PULSE_WEBHOOK_MAX_RUN_SECONDS and gives back what it claimed but
did not send.

Over 300 lines on purpose: the claim, the send under one deadline and the recording of
the outcome share one endpoint worker, whose order is the at-least-once guarantee.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
from psycopg2.pool import ThreadedConnectionPool

from pulse.config import settings as pulse_settings
from pulse.webhooks import signing, store
from pulse.webhooks.endpoints import DEFAULT_RATE, MAX_RATE, MIN_RATE, Endpoint, live_secrets
from pulse.webhooks.retry import parse_retry_after
from pulse.webhooks.settings import WebhookSettings, webhook_settings
from pulse.webhooks.urlguard import (
    ResolutionError,
    Resolver,
    Target,
    UrlRefused,
    check_url,
    system_resolver,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DB_CONNECTIONS = 6
# The answer's body is not used: read this much at most (so the connection can be
# reused when the answer is small), then drop the rest with the connection.
RESPONSE_CAP = 64 * 1024


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
    written goes into the next transaction, in the order it finished.

    A success is recorded behind the endpoint's back: its worker sends the next batch it
    already claimed without waiting for the commit, and waits for every pending outcome
    before it claims again (docs/delivery.md). A failure is waited for, since what comes
    next (retry, give back, disable) depends on its recorded status. A process that dies
    before a commit leaves those batches SENDING under their lease: the next run records
    the lost attempt and sends them again, so a delivery is never lost, at worst repeated.
    """

    def __init__(self, db: _Db, clock: Clock, settings: WebhookSettings) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    def submit(self, batch: store.Batch, outcome: store.Outcome) -> asyncio.Future[str]:
        """Queue an outcome; the future is its recorded status, once committed."""
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((batch, outcome, done))
        return done

    async def record(self, batch: store.Batch, outcome: store.Outcome) -> str:
        return await self.submit(batch, outcome)

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


class _Clients:
    """One HTTP session (and connection pool) per endpoint and host name.

    Per host name: a pool is keyed by the URL's origin, which is the pinned address, so
    one shared session would reuse a TLS connection verified for host A for a request to
    host B on the same address. Per endpoint: an endpoint's worker sends one request at a
    time, so its pool holds one connection.

    aiohttp rather than httpx: on one event loop it costs about a fifth as much per
    request (README "Benchmark"), and one message per request is mostly that cost.
    """

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        # One TLS context for every session, made when the first https endpoint needs it:
        # loading the certificate store costs more than most requests.
        self._tls: ssl.SSLContext | None = None
        self.by_endpoint: dict[tuple[str, str], aiohttp.ClientSession] = {}

    def get(self, endpoint_id: str, target: Target) -> aiohttp.ClientSession:
        session = self.by_endpoint.get((endpoint_id, target.host))
        if session is None:
            if target.url.startswith("https:") and self._tls is None:
                self._tls = ssl.create_default_context()
            session = self.by_endpoint[endpoint_id, target.host] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1, ssl=self._tls or True),
                # No proxy from the environment, no cookies kept between requests, the
                # answer's bytes as sent (never inflated), one deadline for all of it.
                trust_env=False, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout))
        return session

    async def close(self) -> None:
        for session in self.by_endpoint.values():
            await session.close()


async def _deliver(clock: Clock, settings: WebhookSettings,
                   resolve: Resolver) -> dict[str, int]:
    db = _Db(DB_CONNECTIONS)
    tally: Counter[str] = Counter()
    stop_claiming_at = time.monotonic() + settings.max_run_seconds
    try:
        def load(conn):
            with conn, conn.cursor() as cur:
                due = store.due_endpoints(cur, clock())
                return due, live_secrets(cur, [e.endpoint_id for e in due])

        endpoints, secrets = await db.run(load)
        in_flight = asyncio.Semaphore(settings.concurrency)
        recorder = _Recorder(db, clock, settings)
        clients = _Clients(settings)
        try:
            results = await asyncio.gather(*(
                _endpoint_worker(ep, secrets.get(ep.endpoint_id, []), db, recorder, clients,
                                 in_flight, clock, settings, resolve, tally, stop_claiming_at)
                for ep in endpoints), return_exceptions=True)
        finally:
            await clients.close()
            recorder.close()
        for ep, result in zip(endpoints, results, strict=True):
            if isinstance(result, BaseException):
                # Only the warehouse failing gets here (an attempt's own errors are
                # recorded); the endpoint's leases let the next run carry on.
                tally["worker_errors"] += 1
                log.error("endpoint %s: delivery stopped: %s: %s", ep.endpoint_id,
                          type(result).__name__, str(result)[:200])
    finally:
        db.close()
    tally["endpoints"] = len(endpoints)
    log.info("webhook delivery: %s", dict(tally))
    return dict(tally)


def send_interval(rate_limit_per_second: float) -> float:
    """Seconds between two requests to one endpoint. `endpoints.add` refuses rates
    outside [MIN_RATE, MAX_RATE]; a row from before that check is sent at the nearest
    bound (nan at the default)."""
    rate = DEFAULT_RATE if math.isnan(rate_limit_per_second) else rate_limit_per_second
    return 1.0 / min(max(rate, MIN_RATE), MAX_RATE)


async def _endpoint_worker(ep: Endpoint, secrets: list[signing.Secret], db: _Db,
                           recorder: _Recorder, clients: _Clients,
                           in_flight: asyncio.Semaphore,
                           clock: Clock, settings: WebhookSettings, resolve: Resolver,
                           tally: Counter[str], stop_claiming_at: float) -> None:
    interval = send_interval(ep.rate_limit_per_second)
    max_batch = ep.max_batch_size or settings.max_batch
    prefetch = store.prefetch_batches(interval, settings)
    next_slot = time.monotonic()
    target: Target | None = None
    # Successes sent whose outcome is not committed yet (see _Recorder)
    pending: list[tuple[asyncio.Future[str], store.Batch]] = []

    async def settle() -> None:
        try:
            for done, sent in pending:
                tally[(await done).lower()] += len(sent.message_ids)
        finally:
            pending.clear()

    while time.monotonic() < stop_claiming_at:
        # The claim must see this endpoint's earlier batches recorded, or it would take
        # them for another worker's.
        await settle()
        batches = await db.run(store.claim, ep.endpoint_id, clock(), settings, max_batch,
                               prefetch)
        if not batches:
            return
        for i, batch in enumerate(batches):
            wait = next_slot - time.monotonic()
            if time.monotonic() + max(wait, 0) >= stop_claiming_at:
                # The run's time is up: unsent batches go back, in order, for the next run.
                await settle()
                tally["given_back"] += sum(len(b.message_ids) for b in batches[i:])
                await db.run(store.release, batches[i:])
                return
            if wait > 0:
                await asyncio.sleep(wait)
            next_slot = max(next_slot, time.monotonic()) + interval
            outcome, target = await _attempt(ep, target, clients, secrets, batch, in_flight,
                                             settings, resolve)
            tally["requests"] += 1
            if outcome.success:
                pending.append((recorder.submit(batch, outcome), batch))
                continue
            status = await recorder.record(batch, outcome)
            await settle()  # recorded before this one: done already
            tally[status.lower()] += len(batch.message_ids)
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
    await settle()


async def _attempt(ep: Endpoint, target: Target | None, clients: _Clients,
                   secrets: list[signing.Secret], batch: store.Batch,
                   in_flight: asyncio.Semaphore, settings: WebhookSettings,
                   resolve: Resolver) -> tuple[store.Outcome, Target | None]:
    """One attempt's outcome, whatever happens: nothing raised here reaches the run.
    Returns the checked target too, reused for the endpoint's next batches."""
    # The slot is taken before the clock starts: waiting for one is not the endpoint's time.
    async with in_flight:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(settings.timeout):
                if target is None:
                    target = await asyncio.to_thread(check_url, ep.url, settings, resolve)
                session = clients.get(ep.endpoint_id, target)
                return await _send(session, target, secrets, batch), target
        except Exception as exc:
            return _failed(ep, batch, exc, started, settings), (
                target if isinstance(exc, TimeoutError) else None)


def _failed(ep: Endpoint, batch: store.Batch, exc: Exception, started: float,
            settings: WebhookSettings) -> store.Outcome:
    """The recorded outcome of an attempt that raised."""
    if isinstance(exc, UrlRefused):
        return store.Outcome(None, None, f"refused: {exc}", refused=True)
    if isinstance(exc, ResolutionError):
        return store.Outcome(None, _ms(started), f"dns: {exc}")
    if isinstance(exc, TimeoutError):  # aiohttp's timeouts are TimeoutErrors too
        return store.Outcome(None, _ms(started), _timeout(settings))
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return store.Outcome(None, _ms(started), f"tls: {exc.certificate_error}"[:250])
    if isinstance(exc, aiohttp.ClientConnectorError):
        return store.Outcome(None, _ms(started), f"connect: {exc.strerror or exc}"[:250])
    if not isinstance(exc, aiohttp.ClientError | OSError):
        # Not a network failure: worth a line in the log (never headers or the body).
        log.warning("endpoint %s batch %s: unexpected %s", ep.endpoint_id, batch.batch_id,
                    type(exc).__name__)
    # The exception's text never holds headers; its class says what went wrong.
    return store.Outcome(None, _ms(started),
                         f"{type(exc).__name__}: {str(exc)[:200] or 'no detail'}")


def _timeout(settings: WebhookSettings) -> str:
    return f"timeout: no complete answer within {settings.timeout:g} s"


async def _send(session: aiohttp.ClientSession, target: Target,
                secrets: list[signing.Secret], batch: store.Batch) -> store.Outcome:
    # A fresh timestamp on every attempt; the id stays the batch's.
    headers = signing.headers(secrets, batch.batch_id, int(time.time()), batch.body)
    headers["host"] = target.host_header
    # TLS is checked against the name, while the connection goes to the checked address.
    tls_name = {"server_hostname": target.host} if target.url.startswith("https:") else {}
    started = time.perf_counter()
    # Errors (timeouts, refused connections, ...) are recorded by _failed.
    async with session.post(target.url, data=batch.body, headers=headers,
                            allow_redirects=False, **tls_name) as response:
        seen = 0
        while seen < RESPONSE_CAP:
            chunk = await response.content.readany()
            if not chunk:
                break
            seen += len(chunk)
        # Leaving the block with the answer unread closes the connection: the rest of an
        # answer over the cap is never read.
    duration = _ms(started)
    code = response.status
    error = None
    if not 200 <= code < 300:
        error = (f"redirect to {response.headers.get('location', '?')[:200]} (not followed)"
                 if 300 <= code < 400 else f"HTTP {code}")
    retry_after = (parse_retry_after(response.headers.get("retry-after"))
                   if code in (429, 503) else None)
    return store.Outcome(code, duration, error, retry_after)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
