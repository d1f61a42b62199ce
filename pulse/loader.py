"""Load landing files into the raw layer.

Each file is streamed through PostgreSQL's COPY in one transaction together with its
ledger row and its quarantined lines: either the whole file is in, or none of it. Valid
lines go to raw.events (or raw.accounts, raw.users); every other line goes to raw.rejected_events
with a reason, so one bad line never fails its file and nothing is dropped silently;
valid events of a tenant no accounts export has listed yet wait in raw.held_events
(pulse.holds). The ledger row counts every line in exactly one of these.
How a line is judged is pulse.lines.classify; docs/loading.md states the rules.
A file already in the ledger with the same bytes is skipped; a file whose bytes changed
under the same name is refused.

Landing layout (written by generators/ or by the collector):
    <landing>/events/dt=YYYY-MM-DD/*.ndjson.gz
    <landing>/accounts/dt=YYYY-MM-DD/*.ndjson.gz
    <landing>/users/dt=YYYY-MM-DD/*.ndjson.gz

Over 300 lines on purpose: a file's load is one transaction (COPY, holds, quarantine,
ledger row) and the run around it (the order of decisions, the advisory lock, the
parallel jobs that still decide in load order) must be read together to see why nothing
is lost or loaded twice; the judging of lines is apart, in pulse.lines.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import chain
from pathlib import Path
from typing import Any

import psycopg2.errors
from isal import igzip, isal_zlib

from pulse import holds, partitions
from pulse.config import ConfigError, settings
from pulse.lines import (
    COPY_BINARY_HEADER,
    COPY_BINARY_TRAILER,
    ROW_FORMATS,
    Held,
    Invalid,
    LineCtx,
    LongLine,
    classify,
    copy_text,
    split_lines,
    tenant_of,
)
from pulse.privacy.erasure import Suppressed, suppressor_of
from pulse.warehouse import connection, transaction

# accounts first: events are checked against known tenants
KINDS = ("accounts", "users", "events")
# One loader run at a time (a session lock for the whole run): batch ids then commit in
# increasing order, which is what lets staging pick up "batches newer than the last
# build" without missing any.
LOCK_KEY = 7_315_002
# Rows per COPY message (about 170 kB of the usual 700-byte lines). Small enough that the
# socket holds a whole chunk: PostgreSQL parses one while Python judges the next. At
# 2,000 lines each send waited for the server to drain the last, and the two took turns
# (docs/loading.md, "Speed").
COPY_CHUNK_LINES = 250


class ChangedFileError(RuntimeError):
    """A landing file's bytes differ from the copy already loaded under that name."""


@dataclass(frozen=True)
class LandingFile:
    path: Path
    rel: str  # posix path relative to the landing folder: the ledger's key
    kind: str
    partition_date: date


@dataclass
class FileResult:
    file: LandingFile
    status: str  # loaded | skipped | refused | failed
    batch_id: int | None = None
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    message: str = ""
    rows_held: int = 0  # lines of this file waiting for their tenant's accounts export
    admitted: int = 0  # held lines (of any file) this accounts file admitted
    expired: int = 0  # held lines (of any file) quarantined as unknown_tenant at this load
    lines: int = 0


@dataclass
class LoadReport:
    files: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def rows_held(self) -> int:
        return sum(f.rows_held for f in self.files)

    @property
    def admitted(self) -> int:
        return sum(f.admitted for f in self.files)

    @property
    def rejected_by_reason(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.rejected_by_reason)
        return total

    @property
    def problems(self) -> list[FileResult]:
        return [f for f in self.files if f.status in ("refused", "failed")]

    def summary(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.rejected_by_reason.items()))
        return (
            f"{self.count('loaded')} files loaded, {self.count('skipped')} already loaded, "
            f"{len(self.problems)} refused or failed; {self.rows_loaded} rows loaded, "
            f"{self.rows_rejected} quarantined" + (f" ({reasons})" if reasons else "")
            + (f"; {self.rows_held} held for an unknown tenant" if self.rows_held else "")
            + (f"; {self.admitted} held lines admitted" if self.admitted else "")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "files_loaded": self.count("loaded"),
            "files_skipped": self.count("skipped"),
            "files_failed": [f"{f.file.rel}: {f.message}" for f in self.problems],
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "rows_held": self.rows_held,
            "rows_admitted": self.admitted,
            # The quality gate checks exactly what this run loaded.
            "batch_ids": [f.batch_id for f in self.files
                          if f.status == "loaded" and f.batch_id is not None],
        }


def discover(landing: Path, through: date | None = None) -> list[LandingFile]:
    """Landing files in load order: by partition day, accounts, users, events, by name."""
    found: list[LandingFile] = []
    for kind in KINDS:
        for path in (landing / kind).glob("dt=*/*.ndjson.gz"):
            try:
                day = date.fromisoformat(path.parent.name.removeprefix("dt="))
            except ValueError:
                continue  # not a partition folder; nothing of ours
            if through is None or day <= through:
                found.append(LandingFile(path, path.relative_to(landing).as_posix(), kind, day))
    found.sort(key=lambda f: (f.partition_date, KINDS.index(f.kind), f.rel))
    return found


class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks, for psycopg2's copy_expert. Chunks
    are produced as PostgreSQL asks for them, so parsing here overlaps with the server
    ingesting the previous chunk; each read hands over what one chunk made rather than
    waiting to fill `size`, so a chunk is sent as soon as it exists."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        # psycopg2 reports an exception raised here as a cancelled COPY; keep the real one.
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or not self._buf:
            try:
                self._buf += next(self._chunks)
            except StopIteration:
                break
            except BaseException as exc:
                self.error = exc
                raise
        if size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out


class _Spool:
    """Rows for one COPY, in its text format, spooled to a temporary file past
    SPOOL_BYTES as they stream past: however many of a file's lines are held back (held
    for their tenant, quarantined), the loader's memory does not grow with them. A
    250,000-line file whose lines were all held took the loader to 2.9 GB when they were
    kept in a list (docs/loading.md, "Hold and admit")."""

    def __init__(self, copy: str) -> None:
        self._copy = copy
        self._file: tempfile.SpooledTemporaryFile[str] | None = None
        self.rows = 0

    def write(self, row: str) -> None:
        if self._file is None:
            # opened on the first row, closed by close() once the rows are copied
            self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115
                max_size=SPOOL_BYTES, mode="w+", encoding="utf-8")
        self._file.write(row)
        self.rows += 1

    def copy(self, cur) -> None:
        if self._file is not None:
            self._file.seek(0)
            cur.copy_expert(self._copy, self._file, size=1 << 18)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _HeldLines:
    """One COPY attempt's lines held for their tenant (pulse.holds): raw.held_events rows."""

    def __init__(self, batch_id: int, rel: str) -> None:
        self.line_numbers = array("i")
        self.tenants: set[str] = set()
        self.spool = _Spool("copy raw.held_events (batch_id, file_path, line_number, event_id,"
                            " tenant_id, event_ts, received_at, line, payload) from stdin")
        self._prefix = f"{batch_id}\t{copy_text(rel)}\t"

    def __len__(self) -> int:
        return len(self.line_numbers)

    def add(self, line_no: int, row: tuple[str, str, str, str], line: str) -> None:
        event_id, tenant, event_ts, received_at = row
        text = copy_text(line)
        self.spool.write(f"{self._prefix}{line_no}\t{copy_text(event_id)}\t"
                         f"{copy_text(tenant)}\t{event_ts}\t{received_at}\t{text}\t{text}\n")
        self.line_numbers.append(line_no)
        self.tenants.add(tenant)


class _Rejects:
    """One COPY attempt's quarantined lines: raw.rejected_events rows."""

    def __init__(self, batch_id: int, lf: LandingFile) -> None:
        self.reasons: Counter[str] = Counter()
        self.spool = _Spool("copy raw.rejected_events (batch_id, file_path, kind, line_number,"
                            " reason_code, reason, tenant_id, line) from stdin")
        self._prefix = f"{batch_id}\t{copy_text(lf.rel)}\t{lf.kind}\t"

    def __len__(self) -> int:
        return self.spool.rows

    def add(self, line_no: int, reason_code: str, reason: str, tenant: str | None,
            line: str) -> None:
        tenant_text = copy_text(tenant) if tenant is not None else r"\N"
        self.spool.write(f"{self._prefix}{line_no}\t{reason_code}\t{copy_text(reason)}\t"
                         f"{tenant_text}\t{copy_text(line)}\n")
        self.reasons[reason_code] += 1


@dataclass
class _FileOutcome:
    """What one COPY attempt made of a file's lines, filled as the lines stream past."""

    held: _HeldLines
    rejects: _Rejects
    sent: array = field(default_factory=lambda: array("i"))  # file line of each COPY row
    lines: int = 0
    suppressed: int = 0  # lines of erased subjects (docs/privacy.md)


def _rows(lines: Iterable[bytes], kind: str, ctx: LineCtx, out: _FileOutcome) -> Iterator[bytes]:
    build = ROW_FORMATS[kind].build
    chunk: list[bytes] = []
    # Bound once: this loop runs for every line of every file.
    add, sent = chunk.append, out.sent.append
    line_no = 0
    for line_no, raw_line in enumerate(lines, start=1):
        try:
            add(classify(build, raw_line, line_no, ctx))
            sent(line_no)
        except Invalid as exc:
            text = raw_line.decode("utf-8", "replace").replace("\x00", "\ufffd")
            tenant = None if raw_line.__class__ is LongLine else tenant_of(raw_line)
            if ctx.suppress is not None and ctx.suppress.line_is_suppressed(text, tenant):
                out.suppressed += 1  # a quarantined line of an erased subject is not kept
            else:
                out.rejects.add(line_no, exc.reason_code, exc.detail, tenant, text)
        except Held as held:
            out.held.add(line_no, held.row, raw_line.rstrip(b"\r").decode())
        except Suppressed:
            out.suppressed += 1
        if len(chunk) >= COPY_CHUNK_LINES:
            yield b"".join(chunk)
            chunk.clear()
    out.lines = line_no
    if chunk:
        yield b"".join(chunk)


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


_KNOWN_TENANTS = "select distinct tenant_id from raw.accounts"


def known_tenants(cur) -> frozenset[str]:
    cur.execute(_KNOWN_TENANTS)
    return frozenset(row[0] for row in cur.fetchall())


# The file's ledger row if any; and unless it is loaded already (most files of a nightly
# run: they are only checked), the transaction's start (received_at for lines without one),
# the tenants the accounts exports listed so far, and the erased subjects. One statement
# where it took five: 0.3 ms a file (docs/loading.md "Speed").
_OPEN_FILE = f"""
select ledger.sha256, ledger.status, ledger.batch_id, now(), to_load,
       case when to_load then array({_KNOWN_TENANTS}) end,
       case when to_load then array(select array[tenant_hash, user_hash]
                                    from privacy.erasure_requests) end
from (select) as one
left join raw.load_ledger as ledger on ledger.file_path = %(path)s
cross join lateral (select ledger.status is distinct from 'loaded' as to_load) as l
"""


# Held and quarantined lines kept in memory before their spool moves to a temporary file.
SPOOL_BYTES = 8 << 20

# A file whose COPY PostgreSQL refuses this many times, one line each, is recorded failed.
MAX_REFUSED_LINES = 20
_COPY_LINE = re.compile(r"COPY (\w+), line (\d+)")


def _copy_file(cur, lf: LandingFile, ctx: LineCtx, out: _FileOutcome) -> None:
    row_format = ROW_FORMATS[lf.kind]
    with igzip.open(lf.path, "rb") as raw:
        chunks = _rows(split_lines(raw, ctx.max_line_bytes), lf.kind, ctx, out)
        if row_format.binary:
            chunks = chain((COPY_BINARY_HEADER,), chunks, (COPY_BINARY_TRAILER,))
        stream = _ChunkReader(chunks)
        try:
            cur.copy_expert(row_format.copy, stream, size=1 << 18)
        except psycopg2.errors.QueryCanceled:
            if stream.error is not None:
                raise stream.error from None
            raise
    # In the same attempt as the rows: jsonb must accept a held line now, or its
    # admission would fail an accounts file some later night.
    out.held.spool.copy(cur)


def _refused_line(exc: psycopg2.Error, out: _FileOutcome) -> int | None:
    """The file line of the row PostgreSQL refused, from the error's context
    ("COPY events, line 5, column ...")."""
    found = _COPY_LINE.search(getattr(exc.diag, "context", None) or "")
    if not found:
        return None
    table, row = found.group(1), int(found.group(2))
    lines = out.held.line_numbers if table == "held_events" else out.sent
    return lines[row - 1] if 0 < row <= len(lines) else None


def _copy_lines(cur, lf: LandingFile, ctx: LineCtx) -> _FileOutcome:
    """COPY the file's rows (and held lines). Should PostgreSQL still refuse a row the
    line checks let through, that one line is quarantined with PostgreSQL's message and
    the file copied again (inside the same transaction), rather than the file failing."""
    for _attempt in range(MAX_REFUSED_LINES + 1):
        out = _FileOutcome(_HeldLines(ctx.batch_id, lf.rel), _Rejects(ctx.batch_id, lf))
        cur.execute("savepoint file_copy")
        try:
            try:
                _copy_file(cur, lf, ctx, out)
            finally:
                out.held.spool.close()  # copied, or never to be: not needed again
            return out
        except psycopg2.DataError as exc:
            line_no = _refused_line(exc, out)
            if line_no is None or len(ctx.refused) >= MAX_REFUSED_LINES:
                raise
            cur.execute("rollback to savepoint file_copy")
            ctx.refused[line_no] = f"PostgreSQL refused the line: {exc.diag.message_primary}"
    raise AssertionError("unreachable")  # pragma: no cover


class _Order:
    """Files side by side, decisions in load order: file i opens its transaction (ledger
    row, hence batch id) after file i-1 opened its own, and commits after file i-1 is
    done, so batch ids commit in increasing order and holds are admitted and expired in
    the order one loader would (docs/loading.md). Only the COPYs overlap, `copies` at a
    time: a copied file waiting for its turn to commit does not count, so the next files
    are copied meanwhile."""

    def __init__(self, copies: int) -> None:
        self.copying = threading.BoundedSemaphore(copies)
        self._cond = threading.Condition()
        self._opened = 0
        self._done = 0
        self.broken = False  # a worker lost the warehouse: the others stop waiting

    def _wait(self, ready: Callable[[], bool]) -> None:
        with self._cond:
            self._cond.wait_for(lambda: ready() or self.broken)
            if self.broken:
                raise _Aborted

    def _advance(self, attr: str, i: int) -> None:
        with self._cond:
            setattr(self, attr, i + 1)
            self._cond.notify_all()

    @contextmanager
    def opening(self, i: int) -> Iterator[None]:
        self._wait(lambda: self._opened == i)
        try:
            yield
        finally:
            self._advance("_opened", i)

    def wait_turn(self, i: int) -> None:
        self._wait(lambda: self._done == i)

    def done(self, i: int) -> None:
        self._advance("_done", i)

    def abort(self) -> None:
        with self._cond:
            self.broken = True
            self._cond.notify_all()


class _Aborted(Exception):
    """Another worker's warehouse connection failed: this one stops too."""


def changed_since_loaded(landing: Path) -> list[str]:
    """The landing files (relative paths) loaded before whose bytes are not the ones
    loaded: `load_file` would refuse each. Empty when the ledger does not exist yet."""
    with transaction() as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('raw.load_ledger')")
        if cur.fetchone()[0] is None:
            return []
        cur.execute("select file_path, sha256 from raw.load_ledger where status = 'loaded'")
        loaded = dict(cur.fetchall())
    return [lf.rel for lf in discover(landing)
            if lf.rel in loaded and _sha256(lf.path)[0] != loaded[lf.rel]]


def load_file(conn, lf: LandingFile, order: _Order | None = None, i: int = 0) -> FileResult:
    """Load one file in one transaction. The caller holds the run's lock (RUN_LOCK)."""
    sha, size = _sha256(lf.path)
    limits = settings()
    try:
        with conn.cursor() as cur:
            with order.opening(i) if order else nullcontext():
                cur.execute(_OPEN_FILE, {"path": lf.rel})
                (prior_sha, prior_status, prior_batch, started, to_load, tenants,
                 erased) = cur.fetchone()
                if not to_load:
                    conn.rollback()
                    if prior_sha == sha:
                        return FileResult(lf, "skipped", batch_id=prior_batch)
                    raise ChangedFileError(
                        f"{lf.rel} was loaded before (batch {prior_batch}, sha256 "
                        f"{prior_sha[:12]}...) and its bytes have changed (now {sha[:12]}...)."
                        " Raw is append-only: restore the original file, or land the "
                        "correction under a new file name."
                    )
                if prior_status:  # an earlier attempt failed: this is the retry
                    cur.execute("delete from raw.load_ledger where file_path = %s", (lf.rel,))
                cur.execute(
                    "insert into raw.load_ledger (file_path, kind, partition_date, sha256, bytes,"
                    " status) values (%s, %s, %s, %s, %s, 'loading') returning batch_id",
                    (lf.rel, lf.kind, lf.partition_date, sha, size),
                )
                batch_id = cur.fetchone()[0]
                tenants = frozenset(tenants)
                ctx = LineCtx(batch_id, tenants, started.isoformat(), limits.max_line_bytes,
                              suppress=suppressor_of(erased))
            with order.copying if order else nullcontext():
                out = _copy_lines(cur, lf, ctx)
            if order:
                order.wait_turn(i)
                # Earlier files of this run are committed now: an accounts file among them
                # may have listed a tenant this file held. Copied again with what one
                # loader would have known (rare: a new tenant's first day).
                now_known = known_tenants(cur)
                if now_known != tenants and _tenants_matter(out, tenants, now_known):
                    cur.execute("rollback to savepoint file_copy")
                    ctx = replace(ctx, tenants=now_known)
                    with order.copying:
                        out = _copy_lines(cur, lf, ctx)
            result = _finish_file(cur, lf, ctx, out, limits)
        conn.commit()
        return result
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise


def _tenants_matter(out: _FileOutcome, used: frozenset[str], now: frozenset[str]) -> bool:
    """Whether a file copied with tenants `used` would differ under `now`."""
    return bool(used - now) or not out.held.tenants.isdisjoint(now)


def _finish_file(cur, lf: LandingFile, ctx: LineCtx, out: _FileOutcome, limits) -> FileResult:
    batch_id = ctx.batch_id
    try:
        out.rejects.spool.copy(cur)
    finally:
        out.rejects.spool.close()
    loaded = len(out.sent)
    cur.execute(
        "update raw.load_ledger set status = 'loaded', line_count = %s, rows_loaded = %s,"
        " rows_rejected = %s, rows_held = %s, rows_suppressed = %s,"
        " finished_at = clock_timestamp() where batch_id = %s",
        (out.lines, loaded, len(out.rejects), len(out.held), out.suppressed, batch_id),
    )
    admitted = holds.admit(cur, batch_id) if lf.kind == "accounts" else 0
    expired = holds.expire(cur, batch_id, lf.partition_date,
                           limits.unknown_tenant_grace_days)
    return FileResult(
        lf, "loaded", batch_id, loaded, len(out.rejects),
        out.rejects.reasons, rows_held=len(out.held),
        admitted=admitted, expired=expired, lines=out.lines,
    )


def _record_failure(conn, lf: LandingFile, message: str) -> None:
    sha, size = _sha256(lf.path)
    with conn, conn.cursor() as cur:
        cur.execute(
            "insert into raw.load_ledger (file_path, kind, partition_date, sha256, bytes, status,"
            " error, finished_at) values (%s, %s, %s, %s, %s, 'failed', %s, clock_timestamp())"
            " on conflict (file_path) do update set sha256 = excluded.sha256,"
            " bytes = excluded.bytes, error = excluded.error, finished_at = excluded.finished_at"
            " where raw.load_ledger.status <> 'loaded'",
            (lf.rel, lf.kind, lf.partition_date, sha, size, message),
        )


def _postgres_message(exc: psycopg2.Error) -> str:
    primary = exc.diag.message_primary or str(exc).strip()
    context = exc.diag.context
    return primary + (f" ({context.splitlines()[0][:200]})" if context else "")


def load(
    landing: Path | None = None,
    through: date | None = None,
    progress: Callable[[FileResult], None] | None = None,
    jobs: int | None = None,
) -> LoadReport:
    """Load every landing file up to `through` (inclusive) that is not yet in the ledger,
    `jobs` files side by side (default PULSE_LOAD_JOBS, else the cores).

    A refused, unreadable or PostgreSQL-rejected file is reported and recorded, and the
    others still load; the caller decides whether that fails the run (the CLI and the
    nightly DAG do, after loading the rest).
    """
    landing = landing or settings().landing_dir
    if not landing.is_dir():
        # A wrong path would otherwise be a silent "0 files loaded" every night.
        raise ConfigError(f"the landing folder {landing} does not exist: set PULSE_LANDING_DIR,"
                          " or write data into it with `pulse generate`")
    jobs = jobs or settings().load_jobs
    files = discover(landing, through)
    results: list[FileResult | None] = [None] * len(files)
    with connection() as lock_conn:
        lock_conn.autocommit = True
        with lock_conn.cursor() as cur:
            # One loader run at a time, whatever the process: concurrent loaders then act
            # exactly as one would (docs/loading.md).
            cur.execute("select pg_advisory_lock(%s)", (LOCK_KEY,))
            try:
                partitions.ensure_for(cur, [f.partition_date for f in files
                                            if f.kind == "events"])
                workers = max(1, min(jobs, len(files)))
                if workers == 1:
                    _worker(files, results, iter(range(len(files))), None, progress,
                            lock_conn)
                else:
                    _parallel(files, results, workers, progress)
            finally:
                if not lock_conn.closed:
                    cur.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))
    return LoadReport([r for r in results if r is not None])


def _parallel(files: list[LandingFile], results: list[FileResult | None], workers: int,
              progress: Callable[[FileResult], None] | None) -> None:
    order = _Order(workers)
    queue = iter(range(len(files)))
    take = threading.Lock()

    def next_index() -> Iterator[int]:
        while True:
            with take:  # files are taken in load order
                i = next(queue, None)
            if i is None:
                return
            yield i

    report_lock = threading.Lock()

    def report(result: FileResult) -> None:
        if progress:
            with report_lock:
                progress(result)

    def run() -> None:
        try:
            with connection() as conn:
                _worker(files, results, next_index(), order, report, conn)
        except _Aborted:
            pass
        except BaseException:
            order.abort()
            raise

    # `workers` files copied at once, and as many again open, copied, waiting for their
    # turn to commit: with no more threads than copies, a day's small accounts and users
    # files waiting behind its events file kept the next events file from being copied.
    threads = 2 * workers
    with ThreadPoolExecutor(threads, thread_name_prefix="pulse-load") as pool:
        futures = [pool.submit(run) for _ in range(threads)]
    for future in futures:
        future.result()  # the warehouse gone in a worker: raised here, as with one worker


def _worker(files: list[LandingFile], results: list[FileResult | None],
            indexes: Iterable[int], order: _Order | None,
            progress: Callable[[FileResult], None] | None, conn) -> None:
    for i in indexes:
        lf = files[i]
        try:
            result = _load_one(conn, lf, order, i)
        finally:
            if order:
                order.wait_turn(i)
                order.done(i)
        results[i] = result
        if progress:
            progress(result)


def _load_one(conn, lf: LandingFile, order: _Order | None, i: int) -> FileResult:
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        return load_file(conn, lf, order, i)
    except ChangedFileError as exc:
        return FileResult(lf, "refused", message=str(exc))
    except (OSError, EOFError, isal_zlib.error) as exc:
        # A truncated or corrupt gzip (a bad deflate block is isal_zlib.error, a bad
        # checksum or header an OSError): nothing of the file is kept, and the ledger
        # says why, so the file can be landed again once fixed.
        message = f"cannot read {lf.rel}: {exc}. Re-land the file; it will be retried."
        _record_failure(conn, lf, message)
        return FileResult(lf, "failed", message=message)
    except psycopg2.Error as exc:
        if conn.closed or isinstance(exc, (psycopg2.OperationalError,
                                           psycopg2.InterfaceError)):
            raise  # the warehouse itself is gone: nothing to record it in
        # The file's transaction was rolled back: nothing of it is kept.
        message = (f"PostgreSQL refused {lf.rel}: {_postgres_message(exc)}. Fix or "
                   "re-land the file; it will be retried.")
        _record_failure(conn, lf, message)
        return FileResult(lf, "failed", message=message)
    finally:
        if not conn.closed:
            conn.autocommit = autocommit
