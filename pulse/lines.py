"""One landing line in, one verdict out: a COPY row, a quarantine reason, or a hold.

`classify` is the one place a line is judged (docs/loading.md): every check a line gets,
whatever its kind, and then the kind's own rules. Nothing PostgreSQL would refuse may
come out of it as a COPY row, because one refused row fails the whole file's COPY.

Over 300 lines on purpose: every rule a line is judged by sits in one module, so the
order of the checks (which reason wins when several apply) is visible in one place.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, BinaryIO, NamedTuple

import orjson

from pulse.contract import Invalid, fast_decoder, major_if_known, validate_event
from pulse.privacy.erasure import Suppressed

__all__ = [
    "Held",
    "Invalid",
    "LineCtx",
    "LongLine",
    "RowFormat",
    "classify",
    "copy_text",
    "split_lines",
    "tenant_of",
]

LONG_LINE_PREFIX = 1024  # bytes of an overlong line kept in quarantine


def copy_text(value: str) -> str:
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


# --- timestamps ------------------------------------------------------------------------

# The form collectors send (2026-03-01T10:15:30.123Z): PostgreSQL reads it as it is, so
# the common case skips parsing in Python; anything else is parsed and re-serialized.
# The pattern admits only fields in range (no year 0000, month 13, hour 24, minute or
# second 60, offset of 16 h or more: PostgreSQL refuses the offset, and a COPY that
# fails on one value fails the whole file); whether day 29-31 exists in its month is
# checked apart.
_CANONICAL_TS = re.compile(
    r"(?!0000)\d{4}-(?:0[1-9]|1[0-2])-(?:[0-2]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(?:\.\d{1,6})?(?:Z|[+-](?:0\d|1[0-5]):[0-5]\d)",
    re.ASCII,
)
# The same shape with any digits: a value of this shape the pattern above refused has a
# field out of range.
_CANONICAL_SHAPE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)", re.ASCII
)
# Days 29-31 already proven real: a night's lines share a handful, so the fast path
# checks such a day once instead of parsing every timestamp.
_REAL_DAYS: set[str] = set()
# PostgreSQL refuses a UTC offset of 16 hours or more ("time zone displacement out of range").
_MAX_OFFSET_SECONDS = 16 * 3600


def _real_day(day: str) -> bool:
    try:
        date.fromisoformat(day)  # 2026-02-30, 2026-04-31 and day 00 raise
    except ValueError:
        return False
    if len(_REAL_DAYS) > 100_000:
        _REAL_DAYS.clear()
    _REAL_DAYS.add(day)
    return True


_canonical_ts = _CANONICAL_TS.fullmatch


def timestamp(value: Any, name: str) -> str:
    """The value as a timestamptz literal PostgreSQL accepts, or Invalid."""
    # The collectors' form on a day that surely exists, as cheaply as it can be told;
    # anything else goes through the checks below from the start.
    if value.__class__ is str and len(value) <= 32 and _canonical_ts(value) \
            and ("00" < value[8:10] < "29" or value[:10] in _REAL_DAYS):
        return value
    return _timestamp(value, name)


def _timestamp(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise Invalid("wrong_type", f"field {name} must be an ISO 8601 string")
    if len(value) <= 32 and _CANONICAL_TS.fullmatch(value):
        if "00" < value[8:10] < "29" or value[:10] in _REAL_DAYS or _real_day(value[:10]):
            return value
        raise Invalid("bad_timestamp", f"field {name} is not a real instant: {value[:40]!r}")
    if _CANONICAL_SHAPE.fullmatch(value):
        raise Invalid("bad_timestamp", f"field {name} is not a real instant: {value[:40]!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("bad_timestamp", f"field {name} is not ISO 8601: {value[:40]!r}") from None
    offset = parsed.utcoffset()
    if offset is None:
        raise Invalid("bad_timestamp", f"field {name} has no UTC offset: {value[:40]!r}")
    if abs(offset.total_seconds()) >= _MAX_OFFSET_SECONDS:
        raise Invalid("bad_timestamp",
                      f"field {name} has a UTC offset beyond 15:59: {value[:40]!r}")
    # Re-serialized, so PostgreSQL never sees a form Python accepted and it would not.
    return parsed.isoformat()


# timestamptz in COPY's binary format: microseconds since 2000-01-01 00:00 UTC.
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_fromiso = datetime.fromisoformat


def micros(value: Any, name: str) -> int:
    """The instant `timestamp` accepts, as PostgreSQL's binary timestamptz; or Invalid.

    Every literal `timestamp` returns is one `datetime.fromisoformat` reads as the same
    instant PostgreSQL would. A value in UTC ("...Z", the collectors' form) skips the
    pattern: for those, `fromisoformat` accepts exactly what `timestamp` does, since each
    field the pattern bounds it bounds too (tests/test_loader_robustness.py checks both
    claims against PostgreSQL)."""
    if value.__class__ is str and value[-1:] == "Z":
        try:
            since = _fromiso(value) - _PG_EPOCH
        except ValueError:
            pass  # timestamp() below says why
        else:
            return (since.days * 86400 + since.seconds) * 1_000_000 + since.microseconds
    since = _fromiso(timestamp(value, name)) - _PG_EPOCH
    return (since.days * 86400 + since.seconds) * 1_000_000 + since.microseconds


def iso_of_micros(value: int) -> str:
    """The instant as text, for a held line (raw.held_events is copied as text)."""
    return (_PG_EPOCH + timedelta(microseconds=value)).isoformat()


# --- JSON ------------------------------------------------------------------------------

def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _jsonb_number(text: str) -> float:
    # jsonb numbers are PostgreSQL numerics: at most 131072 digits before the point and
    # 16383 after it.
    sign_digits_exp = Decimal(text).as_tuple()
    exponent = sign_digits_exp.exponent
    if not isinstance(exponent, int) or exponent < -16383 \
            or len(sign_digits_exp.digits) + exponent > 131072:
        raise ValueError(f"number {text[:40]} is beyond what jsonb can hold")
    return float(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_wide(line: bytes) -> Any:
    """JSON with a number beyond a double (1e400): valid JSON, and jsonb keeps it exactly
    (the payload is copied as sent; the float here is only for the contract check)."""
    try:
        return json.loads(line, parse_float=_jsonb_number, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise Invalid("invalid_utf8", "not valid JSON: the line is not UTF-8") from None
    except (ValueError, RecursionError) as exc:
        raise Invalid("malformed_json", f"not valid JSON: {exc}") from None


def parse(line: bytes) -> Any:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if "UTF-8" in message:
            raise Invalid("invalid_utf8", f"not valid JSON: {message}") from None
        if "infinity" not in message:
            raise Invalid("malformed_json", f"not valid JSON: {message}") from None
        obj = _parse_wide(line)
    # The text \\u0000 (an escaped backslash, then u0000) is fine; only a decoded NUL,
    # which jsonb cannot hold, is not.
    if b"\\u0000" in line and _has_nul(obj):
        raise Invalid("unsupported_character", "the line contains a \\u0000 character")
    return obj


def tenant_of(line: bytes) -> str | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    tenant = obj.get("tenant_id") if isinstance(obj, dict) else None
    return tenant if isinstance(tenant, str) else None


# --- verdicts --------------------------------------------------------------------------

class Held(Exception):
    """A valid event whose tenant is in no accounts export loaded so far (pulse.holds)."""

    def __init__(self, event_id: str, tenant: str, event_ts: str, received_at: str) -> None:
        super().__init__(tenant)
        self.row = (event_id, tenant, event_ts, received_at)


@dataclass(frozen=True)
class LineCtx:
    batch_id: int
    tenants: frozenset[str]
    loaded_at: str  # stands in for received_at when the collector did not stamp one
    max_line_bytes: int = 1 << 20
    # line number -> PostgreSQL's message, for lines an earlier COPY attempt refused
    refused: dict[int, str] = field(default_factory=dict)
    # erased subjects (pulse.privacy.erasure.Suppressor; docs/privacy.md): their lines are
    # neither loaded nor quarantined, and mentions of them in others' lines are scrubbed
    suppress: Any = None


# COPY's binary format (PostgreSQL docs, "COPY", "Binary Format"): a header, then per row
# the field count and each field as its length and bytes, then -1. The events rows go in
# it because PostgreSQL then reads two timestamps and two integers as they are, not as
# text, and skips unescaping the payload: its part of the COPY fell from 3.8-4.0 s to
# 3.3-3.4 s on demo, what the bare payloads take (docs/loading.md "Speed"). jsonb's
# binary form is a version byte (1) and the JSON text.
COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
COPY_BINARY_TRAILER = struct.pack("!h", -1)
_EVENT_HEAD = struct.Struct("!hi").pack  # 7 fields; event_id's length
_LENGTH = struct.Struct("!i").pack
# tenant_id's bytes, then: event_ts, received_at, batch_id, line_number, payload + version
_EVENT_TAIL = struct.Struct("!iqiqiqiiiB").pack


_fast_decode = fast_decoder()


class _Fields(NamedTuple):
    event_id: str
    tenant_id: str
    user_id: str
    timestamp: Any
    received_at: Any
    parsed: dict[str, Any] | None  # the line as a dict, when the checkers judged it


def _event_fields(line: bytes) -> _Fields:
    """A valid event's fields, or Invalid. The contract's msgspec type decodes and checks
    most lines in one pass (1.3 us a line less than orjson and the checkers; it accepts
    only what they accept, tests/test_loader_robustness.py); any line it refuses, and any
    it cannot vouch for (a version not yet seen, a \\u0000), the checkers judge, saying why."""
    if _fast_decode is not None and b"\\u0000" not in line:
        try:
            event = _fast_decode(line)
        except Exception:  # whatever it is, the checkers below say why
            pass
        else:
            if major_if_known(event.event_version) is not None:
                return _Fields(event.event_id, event.tenant_id, event.user_id,
                               event.timestamp, event.received_at, None)
    obj = parse(line)
    validate_event(obj)
    return _Fields(obj["event_id"], obj["tenant_id"], obj["user_id"], obj["timestamp"],
                   obj.get("received_at"), obj)


def _event_row(line: bytes, line_no: int, ctx: LineCtx) -> bytes:
    fields = _event_fields(line)
    event_ts = micros(fields.timestamp, "timestamp")
    received = fields.received_at
    received_at = micros(received if received is not None else ctx.loaded_at, "received_at")
    tenant = fields.tenant_id
    suppress = ctx.suppress
    if suppress is not None:
        if suppress(tenant, fields.user_id):
            raise Suppressed
        if suppress.names_erased_users(tenant):
            obj = fields.parsed if fields.parsed is not None else orjson.loads(line)
            if suppress.scrub_references(obj, tenant):
                line = orjson.dumps(obj)
    if tenant not in ctx.tenants:
        raise Held(fields.event_id, tenant, iso_of_micros(event_ts), iso_of_micros(received_at))
    event_id = fields.event_id.encode()
    tenant_bytes = tenant.encode()
    # One join: the payload is most of the row, and each + would copy it again.
    return b"".join((
        _EVENT_HEAD(7, len(event_id)), event_id, _LENGTH(len(tenant_bytes)), tenant_bytes,
        _EVENT_TAIL(8, event_ts, 8, received_at, 8, ctx.batch_id, 4, line_no,
                    len(line) + 1, 1),
        line,
    ))


_ACCOUNT_FIELDS: dict[str, tuple[type, ...]] = {
    "export_date": (str,),
    "tenant_id": (str,),
    "plan": (str,),
    "status": (str,),
    "seats": (int,),
    "mrr": (int, float),
}


def _account_row(line: bytes, line_no: int, ctx: LineCtx) -> bytes:
    obj = parse(line)
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
        copy_text(obj["tenant_id"]).encode(),
        ctx.batch_id,
        line_no,
        _copy_json(line),
    )


CONSENT_PURPOSES = ("analytics_tracking", "behavioral_analysis", "marketing_attribution",
                    "ml_predictions")


def _user_row(line: bytes, line_no: int, ctx: LineCtx) -> bytes:
    """A users-export line (docs/event-contract.md "Users export"): its consent must be
    whole, since it is the authoritative source of every purpose (docs/privacy.md)."""
    obj = parse(line)
    if not isinstance(obj, dict):
        raise Invalid("not_an_object", "a line must hold a JSON object")
    for name in ("export_date", "tenant_id", "user_id", "consent_updated_at", "consent"):
        value = obj.get(name)
        if value is None:
            raise Invalid("missing_field", f"required field {name} is missing")
        if not isinstance(value, dict if name == "consent" else str):
            raise Invalid("wrong_type", f"field {name} has type {type(value).__name__}")
    for purpose in CONSENT_PURPOSES:
        flag = obj["consent"].get(purpose)
        if flag is None:
            raise Invalid("missing_field", f"required field consent.{purpose} is missing")
        if not isinstance(flag, bool):
            raise Invalid("wrong_type",
                          f"field consent.{purpose} has type {type(flag).__name__}")
    try:
        export_date = date.fromisoformat(obj["export_date"])
    except ValueError:
        raise Invalid("bad_timestamp", "export_date is not YYYY-MM-DD") from None
    timestamp(obj["consent_updated_at"], "consent_updated_at")
    if ctx.suppress is not None and ctx.suppress(obj["tenant_id"], obj["user_id"]):
        raise Suppressed
    return b"%s\t%s\t%s\t%d\t%d\t%s\n" % (
        export_date.isoformat().encode(),
        copy_text(obj["tenant_id"]).encode(),
        copy_text(obj["user_id"]).encode(),
        ctx.batch_id,
        line_no,
        _copy_json(line),
    )


class RowFormat(NamedTuple):
    """How one kind of landing file's rows reach PostgreSQL."""

    copy: str  # the COPY statement
    build: Callable[[bytes, int, LineCtx], bytes]  # one valid line's row (via classify)
    # rows in COPY's binary format: the caller frames them with COPY_BINARY_HEADER and
    # COPY_BINARY_TRAILER
    binary: bool = False


ROW_FORMATS: dict[str, RowFormat] = {
    "events": RowFormat(
        "copy raw.events (event_id, tenant_id, event_ts, received_at, batch_id, line_number,"
        " payload) from stdin (format binary)",
        _event_row,
        binary=True,
    ),
    "accounts": RowFormat(
        "copy raw.accounts (export_date, tenant_id, batch_id, line_number, payload) from stdin",
        _account_row,
    ),
    "users": RowFormat(
        "copy raw.users (export_date, tenant_id, user_id, batch_id, line_number, payload)"
        " from stdin",
        _user_row,
    ),
}


def classify(build: Callable[[bytes, int, LineCtx], bytes], raw_line: bytes, line_no: int,
             ctx: LineCtx) -> bytes:
    """The COPY row for one line; raises Invalid (quarantine) or Held (wait for tenant).

    The checks every line gets come first; then the kind's own builder."""
    if raw_line.__class__ is LongLine:
        raise Invalid(
            "line_too_long",
            f"the line is {raw_line.size:,} bytes, over the {ctx.max_line_bytes:,}-byte limit"
            f" (PULSE_MAX_LINE_BYTES); sha256 {raw_line.sha256}; its first "
            f"{LONG_LINE_PREFIX} bytes are kept",
        )
    line = raw_line[:-1] if raw_line.endswith(b"\r") else raw_line
    if not line or line.isspace():
        raise Invalid("blank_line", "the line is empty or only whitespace")
    if ctx.refused and line_no in ctx.refused:
        raise Invalid("rejected_by_postgres", ctx.refused[line_no])
    return build(line, line_no, ctx)


# --- splitting a file into lines -------------------------------------------------------

class LongLine(bytes):
    """The first bytes of a line over the size limit, with the whole line's size and
    sha256: the megabytes themselves are never held in memory or stored."""

    size: int
    sha256: str

    @classmethod
    def of(cls, prefix: bytes, size: int, sha256: str) -> LongLine:
        out = cls(prefix[:LONG_LINE_PREFIX])
        out.size = size
        out.sha256 = sha256
        return out


def _long(line: bytes) -> LongLine:
    return LongLine.of(line, len(line), hashlib.sha256(line).hexdigest())


def split_lines(stream: BinaryIO, limit: int, block: int = 1 << 18) -> Iterator[bytes]:
    """Lines without their line ends, read in blocks (iterating a gzip file line by line
    costs more than validating the line). A line over `limit` bytes comes out as a
    LongLine, hashed as it streams past.

    256 kB, not more: PostgreSQL waits for the first COPY chunk while the first block is
    decompressed, and with 4-MB blocks that was most of each file (docs/loading.md)."""
    rest = b""
    digest = None  # set while inside an overlong line
    prefix = b""
    size = 0
    while data := stream.read(block):
        if digest is not None:
            cut = data.find(b"\n")
            if cut < 0:
                digest.update(data)
                size += len(data)
                continue
            digest.update(data[:cut])
            yield LongLine.of(prefix, size + cut, digest.hexdigest())
            digest = None
            data = data[cut + 1:]
        parts = (rest + data).split(b"\n")
        rest = parts.pop()
        if parts and max(map(len, parts)) > limit:
            for part in parts:
                yield _long(part) if len(part) > limit else part
        else:
            yield from parts
        if len(rest) > limit:
            digest = hashlib.sha256(rest)
            prefix = rest[:LONG_LINE_PREFIX]
            size = len(rest)
            rest = b""
    if digest is not None:
        yield LongLine.of(prefix, size, digest.hexdigest())
    elif rest:
        yield _long(rest) if len(rest) > limit else rest
