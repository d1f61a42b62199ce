"""Load landing files into the raw layer.

Each file is streamed through PostgreSQL's COPY in one transaction together with its
ledger row and its quarantined lines: either the whole file is in, or none of it. Valid
lines go to raw.events (or raw.accounts); every other line goes to raw.rejected_events
with a reason, so one bad line never fails its file and nothing is dropped silently.
A file already in the ledger with the same bytes is skipped; a file whose bytes changed
under the same name is refused.

Landing layout (written by generators/ or by the collector):
    <landing>/events/dt=YYYY-MM-DD/*.ndjson.gz
    <landing>/accounts/dt=YYYY-MM-DD/*.ndjson.gz
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import psycopg2.errors

from pulse.config import settings
from pulse.contract import Invalid, validate_event
from pulse.privacy.erasure import Suppressed, Suppressor, suppressor
from pulse.warehouse import connect

KINDS = ("accounts", "events")  # accounts first: events are checked against known tenants
# One loader at a time: batch ids then commit in increasing order, which is what lets
# staging pick up "batches newer than the last build" without missing any.
LOCK_KEY = 7_315_002
COPY_CHUNK_LINES = 2_000


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
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "files_loaded": self.count("loaded"),
            "files_skipped": self.count("skipped"),
            "files_failed": [f"{f.file.rel}: {f.message}" for f in self.problems],
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            # The quality gate checks exactly what this run loaded.
            "batch_ids": [f.batch_id for f in self.files
                          if f.status == "loaded" and f.batch_id is not None],
        }


def discover(landing: Path, through: date | None = None) -> list[LandingFile]:
    """Landing files in load order: by partition day, accounts before events, by name."""
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


# --- line validation -------------------------------------------------------------------

def _copy_text(value: str) -> str:
    """Escape a value for COPY's text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = (
            value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _copy_json(line: bytes) -> bytes:
    # A valid JSON line has no raw newline; tabs and CRs are legal JSON whitespace.
    if b"\\" in line:
        line = line.replace(b"\\", b"\\\\")
    if b"\t" in line:
        line = line.replace(b"\t", b"\\t")
    if b"\r" in line:
        line = line.replace(b"\r", b"\\r")
    return line


# The form collectors send (2026-03-01T10:15:30.123Z): PostgreSQL reads it as it is, so
# the common case skips parsing in Python; anything else is parsed and re-serialized.
_CANONICAL_TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)")


def _timestamp(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise Invalid("wrong_type", f"field {name} must be an ISO 8601 string")
    if len(value) <= 32 and _CANONICAL_TS.fullmatch(value.encode()):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("bad_timestamp", f"field {name} is not ISO 8601: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise Invalid("bad_timestamp", f"field {name} has no UTC offset: {value[:40]!r}")
    # Re-serialized, so PostgreSQL never sees a form Python accepted and it would not.
    return parsed.isoformat()


def _parse(line: bytes) -> Any:
    if b"\\u0000" in line:
        # JSONB cannot hold NUL characters; better quarantined than failing the file.
        raise Invalid("unsupported_character", "the line contains a \\u0000 character")
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        code = "invalid_utf8" if "UTF-8" in str(exc) else "malformed_json"
        raise Invalid(code, f"not valid JSON: {exc}") from None


@dataclass(frozen=True)
class _Ctx:
    batch_id: int
    tenants: frozenset[str]
    loaded_at: str  # stands in for received_at when the collector did not stamp one
    suppress: Suppressor | None = None  # erased subjects (docs/privacy.md)


def _event_row(line: bytes, line_no: int, ctx: _Ctx) -> bytes:
    obj = _parse(line)
    validate_event(obj)
    event_ts = _timestamp(obj["timestamp"], "timestamp")
    received = obj.get("received_at")
    received_at = _timestamp(received, "received_at") if received is not None else ctx.loaded_at
    tenant = obj["tenant_id"]
    if ctx.suppress is not None:
        if ctx.suppress(tenant, obj["user_id"]):
            raise Suppressed
        if ctx.suppress.scrub_references(obj, tenant):
            line = orjson.dumps(obj)
    if tenant not in ctx.tenants:
        raise Invalid("unknown_tenant", f"tenant {tenant[:60]!r} is not in any accounts export")
    head = (
        f"{_copy_text(obj['event_id'])}\t{_copy_text(tenant)}\t{event_ts}\t{received_at}\t"
        f"{ctx.batch_id}\t{line_no}\t"
    )
    return head.encode() + _copy_json(line) + b"\n"


_ACCOUNT_FIELDS: dict[str, tuple[type, ...]] = {
    "export_date": (str,),
    "tenant_id": (str,),
    "plan": (str,),
    "status": (str,),
    "seats": (int,),
    "mrr": (int, float),
}


def _account_row(line: bytes, line_no: int, ctx: _Ctx) -> bytes:
    obj = _parse(line)
    if not isinstance(obj, dict):
        raise Invalid("not_an_object", "a line must hold a JSON object")
    for name, types in _ACCOUNT_FIELDS.items():
        value = obj.get(name)
        if value is None:
            raise Invalid("missing_field", f"required field {name} is missing")
        if not isinstance(value, types) or isinstance(value, bool):
            raise Invalid("wrong_type", f"field {name} has type {type(value).__name__}")
    try:
        export_date = date.fromisoformat(obj["export_date"])
    except ValueError:
        raise Invalid("bad_timestamp", "export_date is not YYYY-MM-DD") from None
    if ctx.suppress is not None and ctx.suppress(obj["tenant_id"], None):
        raise Suppressed
    return b"%s\t%s\t%d\t%d\t%s\n" % (
        export_date.isoformat().encode(),
        _copy_text(obj["tenant_id"]).encode(),
        ctx.batch_id,
        line_no,
        _copy_json(line),
    )


ROW_BUILDERS: dict[str, tuple[str, Callable[[bytes, int, _Ctx], bytes]]] = {
    "events": (
        "copy raw.events (event_id, tenant_id, event_ts, received_at, batch_id, line_number,"
        " payload) from stdin",
        _event_row,
    ),
    "accounts": (
        "copy raw.accounts (export_date, tenant_id, batch_id, line_number, payload) from stdin",
        _account_row,
    ),
}


class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks, for psycopg2's copy_expert. Chunks
    are produced as PostgreSQL asks for them, so parsing here overlaps with the server
    ingesting the previous chunk."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        # psycopg2 reports an exception raised here as a cancelled COPY; keep the real one.
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
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


@dataclass
class _Rejected:
    line_number: int
    reason_code: str
    reason: str
    tenant_id: str | None
    line: str


def _tenant_of(line: bytes) -> str | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    tenant = obj.get("tenant_id") if isinstance(obj, dict) else None
    return tenant if isinstance(tenant, str) else None


def _lines(stream: BinaryIO, block: int = 1 << 22) -> Iterator[bytes]:
    """Lines without their line ends, read in large blocks: iterating a gzip file line by
    line costs more than validating the line."""
    rest = b""
    while data := stream.read(block):
        parts = (rest + data).split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def _rows(
    lines: Iterable[bytes], kind: str, ctx: _Ctx, rejects: list[_Rejected], counts: Counter[str]
) -> Iterator[bytes]:
    build = ROW_BUILDERS[kind][1]
    chunk: list[bytes] = []
    loaded = 0
    for line_no, raw_line in enumerate(lines, start=1):
        line = raw_line[:-1] if raw_line.endswith(b"\r") else raw_line
        if not line or line.isspace():
            continue  # blank lines carry nothing; not worth a quarantine row
        try:
            chunk.append(build(line, line_no, ctx))
            loaded += 1
        except Suppressed:
            counts["suppressed"] += 1
        except Invalid as exc:
            text = line.decode("utf-8", "replace").replace("\x00", "\ufffd")
            rejects.append(_Rejected(line_no, exc.reason_code, exc.detail, _tenant_of(line), text))
        if len(chunk) >= COPY_CHUNK_LINES:
            counts["loaded"] = loaded
            yield b"".join(chunk)
            chunk = []
    counts["loaded"] = loaded
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


def known_tenants(cur) -> set[str]:
    cur.execute("select distinct tenant_id from raw.accounts")
    return {row[0] for row in cur.fetchall()}


def load_file(conn, lf: LandingFile, tenants: set[str]) -> FileResult:
    sha, size = _sha256(lf.path)
    with conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        cur.execute(
            "select sha256, status, batch_id from raw.load_ledger where file_path = %s",
            (lf.rel,),
        )
        prior = cur.fetchone()
        if prior and prior[1] == "loaded":
            if prior[0] == sha:
                return FileResult(lf, "skipped", batch_id=prior[2])
            raise ChangedFileError(
                f"{lf.rel} was loaded before (batch {prior[2]}, sha256 {prior[0][:12]}...) and "
                f"its bytes have changed (now {sha[:12]}...). Raw is append-only: restore the "
                "original file, or land the correction under a new file name."
            )
        if prior:  # an earlier attempt failed: this is the retry
            cur.execute("delete from raw.load_ledger where file_path = %s", (lf.rel,))
        cur.execute(
            "insert into raw.load_ledger (file_path, kind, partition_date, sha256, bytes, status)"
            " values (%s, %s, %s, %s, %s, 'loading') returning batch_id",
            (lf.rel, lf.kind, lf.partition_date, sha, size),
        )
        batch_id = cur.fetchone()[0]
        cur.execute("select now()")
        ctx = _Ctx(batch_id, frozenset(tenants), cur.fetchone()[0].isoformat(), suppressor(cur))
        rejects: list[_Rejected] = []
        counts: Counter[str] = Counter()
        with gzip.open(lf.path, "rb") as raw:
            stream = _ChunkReader(_rows(_lines(raw), lf.kind, ctx, rejects, counts))
            try:
                cur.copy_expert(ROW_BUILDERS[lf.kind][0], stream, size=1 << 18)
            except psycopg2.errors.QueryCanceled:
                if stream.error is not None:
                    raise stream.error from None
                raise
        if ctx.suppress is not None:
            kept = [r for r in rejects if not ctx.suppress.line_is_suppressed(r.line, r.tenant_id)]
            counts["suppressed"] += len(rejects) - len(kept)
            rejects = kept
        if rejects:
            buf = io.StringIO()
            for r in rejects:
                buf.write(
                    "\t".join(
                        [str(batch_id), _copy_text(lf.rel), lf.kind, str(r.line_number),
                         r.reason_code, _copy_text(r.reason),
                         _copy_text(r.tenant_id) if r.tenant_id is not None else r"\N",
                         _copy_text(r.line)]
                    ) + "\n"
                )
            buf.seek(0)
            cur.copy_expert(
                "copy raw.rejected_events (batch_id, file_path, kind, line_number, reason_code,"
                " reason, tenant_id, line) from stdin",
                buf,
            )
        cur.execute(
            "update raw.load_ledger set status = 'loaded', rows_loaded = %s, rows_rejected = %s,"
            " rows_suppressed = %s, finished_at = clock_timestamp() where batch_id = %s",
            (counts["loaded"], len(rejects), counts["suppressed"], batch_id),
        )
    return FileResult(
        lf, "loaded", batch_id, counts["loaded"], len(rejects),
        Counter(r.reason_code for r in rejects),
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


def load(
    landing: Path | None = None,
    through: date | None = None,
    progress: Callable[[FileResult], None] | None = None,
) -> LoadReport:
    """Load every landing file up to `through` (inclusive) that is not yet in the ledger.

    A refused or unreadable file is reported and the others still load; the caller
    decides whether that fails the run (the nightly DAG does, after loading the rest).
    """
    landing = landing or settings().landing_dir
    report = LoadReport()
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            tenants = known_tenants(cur)
        for lf in discover(landing, through):
            try:
                result = load_file(conn, lf, tenants)
            except ChangedFileError as exc:
                result = FileResult(lf, "refused", message=str(exc))
            except (OSError, EOFError, zlib.error) as exc:
                # A truncated or corrupt gzip: nothing of the file is kept, and the ledger
                # says why, so the file can be landed again once fixed.
                message = f"cannot read {lf.rel}: {exc}. Re-land the file; it will be retried."
                _record_failure(conn, lf, message)
                result = FileResult(lf, "failed", message=message)
            if result.status == "loaded" and lf.kind == "accounts":
                with conn, conn.cursor() as cur:
                    tenants = known_tenants(cur)
            report.files.append(result)
            if progress:
                progress(result)
    finally:
        conn.close()
    return report
