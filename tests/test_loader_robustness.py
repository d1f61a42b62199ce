"""The loader against what a production night brings: impossible timestamps, lines
PostgreSQL refuses, blank and huge lines, generated garbage, SIGKILLs, concurrent loaders
and a tenant whose events arrive before its first accounts export (docs/loading.md).

Real PostgreSQL, the real loader, the real `pulse load` CLI in subprocesses, real dbt.

Over 300 lines on purpose: each robustness item (killed loaders, concurrent loaders,
every kind of bad line) shares this module's landing helpers.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from generators import generate
from pulse import contract, lines, loader, migrate
from tests.conftest import REPO, dbt_build, pulse_cli, query, reset_schemas, scalar

DAY = date(2026, 1, 1)
ACCOUNT = {"export_date": "2026-01-01", "tenant_id": "ten_ok", "plan": "starter",
           "status": "active", "seats": 5, "mrr": 99.0}
GOOD = {"event_id": "e-1", "tenant_id": "ten_ok", "user_id": "u-1", "session_id": None,
        "event_name": "user.logged_in", "event_version": "1.0",
        "timestamp": "2026-01-01T10:00:00.000Z", "received_at": "2026-01-01T10:00:01Z",
        "properties": None, "context": None, "user_properties": None}


def _write(path: Path, lines: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as fh:
        fh.write(b"".join(line + b"\n" for line in lines))
    return path


def _accounts(landing: Path, day: date, tenants: list[str], name: str = "accounts") -> None:
    _write(landing / f"accounts/dt={day}/{name}.ndjson.gz",
           [orjson.dumps({**ACCOUNT, "export_date": day.isoformat(), "tenant_id": t})
            for t in tenants])


def _event(n: int, **changes) -> bytes:
    return orjson.dumps({**GOOD, "event_id": f"e-{n}", **changes})


def _ledger_adds_up() -> list[tuple]:
    """Files whose ledger row does not account for every line, and rows that disagree
    with the tables they count."""
    return query(
        "select l.file_path, l.line_count, l.rows_loaded, l.rows_rejected, l.rows_held,"
        "       l.rows_admitted"
        " from raw.load_ledger l"
        " where l.status = 'loaded' and (l.line_count is null"
        "   or l.line_count <> l.rows_loaded + l.rows_rejected + l.rows_held + l.rows_admitted"
        "   or l.rows_rejected <> (select count(*) from raw.rejected_events r"
        "                          where r.batch_id = l.batch_id)"
        "   or l.rows_held <> (select count(*) from raw.held_events h"
        "                      where h.batch_id = l.batch_id and h.status = 'held')"
        "   or (l.kind = 'events' and l.rows_loaded <> (select count(*) from raw.events e"
        "                          where e.batch_id = l.batch_id)))")


# --- item 1: nothing PostgreSQL can refuse reaches COPY ---------------------------------

def test_impossible_timestamps_and_odd_lines_each_get_their_verdict(
        clean_warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_MAX_LINE_BYTES", "4096")
    landing = tmp_path / "landing"
    _accounts(landing, DAY, ["ten_ok"])
    cases: list[tuple[bytes, str | None]] = [
        (_event(1), None),
        (_event(2, timestamp="2026-02-30T10:00:00.000Z"), "bad_timestamp"),
        (_event(3, timestamp="2026-01-01T25:00:00.000Z"), "bad_timestamp"),
        (_event(4, timestamp="2026-01-01T10:61:00.000Z"), "bad_timestamp"),
        (_event(5, timestamp="2026-01-01T10:00:00.000+16:00"), "bad_timestamp"),
        (_event(6, timestamp="0000-01-01T10:00:00.000Z"), "bad_timestamp"),
        (_event(7, received_at="2026-13-01T10:00:00Z"), "bad_timestamp"),
        (_event(8, timestamp="2026-01-01T10:00:60Z"), "bad_timestamp"),
        (_event(9, timestamp="2026-01-01T10:00:00+20:00:00"), "bad_timestamp"),
        (_event(10, timestamp="2026-01-01T10:00:00.000+15:59"), None),
        (_event(11, timestamp="2024-02-29T10:00:00Z"), None),  # a leap day is real
        (b"", "blank_line"),
        (b"  \t ", "blank_line"),
        (b"\r", "blank_line"),
        # valid JSON that jsonb accepts loads: a number beyond a double, and the text
        # \\u0000 (an escaped backslash, then u0000), which is not a NUL
        (_event(12)[:-1] + b', "extra": 1e400}', None),
        (_event(13, properties={"note": "\\u0000"}), None),
        (_event(14)[:-1] + b', "x": "\\u0000"}', "unsupported_character"),
        (_event(15)[:-1] + b', "pad": "' + b"y" * 5000 + b'"}', "line_too_long"),
        (_event(16, tenant_id="ten_new"), None),  # held
    ]
    _write(landing / f"events/dt={DAY}/events-000.ndjson.gz", [line for line, _ in cases])
    # a later file loads whatever happened to the first
    _write(landing / "events/dt=2026-01-02/events-000.ndjson.gz", [_event(100)])

    migrate.apply(log=lambda _m: None)
    report = loader.load(landing)
    assert not report.problems, report.summary()

    expected = {n: reason for n, (_, reason) in enumerate(cases, start=1) if reason}
    got = dict(query("select line_number, reason_code from raw.rejected_events"))
    assert got == expected
    assert sorted(r[0] for r in query("select event_id from raw.events")) == [
        "e-1", "e-10", "e-100", "e-11", "e-12", "e-13"]
    assert scalar("select payload->>'extra' from raw.events where event_id = 'e-12'"
                  ) == "1" + "0" * 400
    assert scalar("select payload->'properties'->>'note' from raw.events"
                  " where event_id = 'e-13'") == "\\u0000"
    assert query("select line_number, status from raw.held_events") == [(len(cases), "held")]
    # the overlong line is kept as a prefix and its checksum, not its bytes
    long_line, reason = query("select line, reason from raw.rejected_events"
                              " where reason_code = 'line_too_long'")[0]
    assert len(long_line) == 1024 and "sha256 " in reason and "4,096-byte limit" in reason
    assert query("select rows_loaded, rows_rejected, rows_held, line_count from raw.load_ledger"
                 " where file_path = %s", (f"events/dt={DAY}/events-000.ndjson.gz",)) == [
        (len(cases) - len(expected) - 1, len(expected), 1, len(cases))]
    assert _ledger_adds_up() == []


def test_a_file_postgres_still_refuses_fails_alone_and_the_run_says_which(
        clean_warehouse, tmp_path):
    landing = tmp_path / "landing"
    _accounts(landing, DAY, ["ten_ok"])
    # 1e-20000 is JSON a double reads as 0.0, but beyond PostgreSQL's numeric: COPY
    # refuses it. One such line is quarantined with PostgreSQL's message ...
    underflow = b', "tiny": 1e-20000}'
    # (a line to be held is checked too: its admission must not fail a later night)
    _write(landing / f"events/dt={DAY}/one-refused.ndjson.gz",
           [_event(1), _event(2)[:-1] + underflow, _event(3),
            _event(5, tenant_id="ten_new")[:-1] + underflow, _event(6, tenant_id="ten_new")])
    # ... a file of more such lines than the loader retries is recorded failed ...
    broken = landing / f"events/dt={DAY}/many-refused.ndjson.gz"
    _write(broken, [_event(100 + n)[:-1] + underflow
                    for n in range(loader.MAX_REFUSED_LINES + 2)])
    # ... and the next day still loads.
    _write(landing / "events/dt=2026-01-02/events-000.ndjson.gz", [_event(4)])

    proc = pulse_cli("load", env={"PULSE_LANDING_DIR": str(landing)}, check=False)
    assert proc.returncode == 1
    rel = broken.relative_to(landing).as_posix()
    assert rel in proc.stderr and "value overflows numeric format" in proc.stderr
    status, error = query("select status, error from raw.load_ledger where file_path = %s",
                          (rel,))[0]
    assert status == "failed" and "value overflows numeric format" in error
    assert sorted(r[0] for r in query("select event_id from raw.events")) == ["e-1", "e-3", "e-4"]
    assert query("select line_number, reason_code from raw.rejected_events order by 1") == [
        (2, "rejected_by_postgres"), (4, "rejected_by_postgres")]
    assert query("select line_number, status from raw.held_events") == [(5, "held")]
    assert _ledger_adds_up() == []
    # the failed file is retried by the next run, and fails again the same way
    again = pulse_cli("load", env={"PULSE_LANDING_DIR": str(landing)}, check=False)
    assert again.returncode == 1 and rel in again.stderr


# --- item 2: every line accounted for, whatever the lines -------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                          allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_stamp = st.builds(
    lambda y, mo, d, h, mi, s, off: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.000{off}",
    st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99),
    st.integers(0, 99), st.integers(0, 99),
    st.sampled_from(["Z", "+00:00", "+15:59", "+16:00", "-23:59", "+05:99", ""]),
) | st.text(max_size=30)
_events = st.builds(
    lambda n, ts, recv, tenant: _event(n, timestamp=ts, received_at=recv, tenant_id=tenant),
    st.integers(0, 10**6), _stamp, st.none() | _stamp,
    st.sampled_from(["ten_ok", "ten_unknown"]),
)
_line = st.one_of(
    st.binary(max_size=120),
    _json.map(lambda v: json.dumps(v).encode()),  # any size of integer, as JSON allows
    _events,
    st.sampled_from([b"", b" ", b"\t\t", b"\r", b"\x00", b"{}", b"1e400", b'"\\\\u0000"',
                     b'{"a": "\\u0000"}', b'{"a": 1e-20000}', b'"\\ud800"']),
    st.integers(5_000, 20_000).map(lambda n: b'{"event_id": "' + b"z" * n + b'"}'),
)
_counter = itertools.count()


@pytest.fixture
def property_landing(clean_warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_MAX_LINE_BYTES", "4096")
    landing = tmp_path / "landing"
    _accounts(landing, DAY, ["ten_ok"])
    migrate.apply(log=lambda _m: None)
    assert not loader.load(landing).problems
    return landing


@hsettings(max_examples=60, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture,
                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=st.lists(_line, max_size=25))
def test_generated_lines_never_break_the_load_and_every_line_is_counted(
        property_landing, lines):
    content = b"".join(line + b"\n" for line in lines)
    rel = f"events/dt={DAY}/generated-{next(_counter):05d}.ndjson.gz"
    path = property_landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as fh:
        fh.write(content)

    report = loader.load(property_landing)

    assert not report.problems, report.summary()
    [result] = [f for f in report.files if f.file.rel == rel]
    assert result.status == "loaded"
    line_count, loaded, rejected, held = query(
        "select line_count, rows_loaded, rows_rejected, rows_held from raw.load_ledger"
        " where file_path = %s", (rel,))[0]
    assert line_count == content.count(b"\n")
    assert loaded + rejected + held == line_count
    assert _ledger_adds_up() == []



_zulu = st.sampled_from([
    "2026-01-01 10:00:00Z", "20260101T100000Z", "2026-W01-1T10:00:00Z", "2026-01-01T10Z",
    "2026-01-01T10:00:00.1234567Z", "2026-01-01T10:00:00,5Z", "2026-01-01T10:00Z", "Z", "",
    "2026-02-29T00:00:00Z", "2024-02-29T23:59:59.999999Z", "2026-04-31T10:00:00Z",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "1999-12-31T23:59:59.999999Z",
    "2026-01-01T10:00:00.5+05:30", "2026-01-01T10:00:00-00:00", "2026-01-01T10:00:00+05:60",
]) | st.builds(
    lambda y, mo, d, h, mi, s, frac: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}Z",
    st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
    st.integers(0, 61), st.integers(0, 61), st.sampled_from(["", ".1", ".123", ".123456"]))


@hsettings(max_examples=400, deadline=None)
@given(value=_stamp | _zulu)
def test_binary_timestamps_accept_what_the_text_check_accepts_and_mean_what_postgres_reads(
        warehouse_db, value):
    """raw.events gets its timestamps in COPY's binary format, computed in Python
    (`lines.micros`); the held and quarantined lines still go as text (`lines.timestamp`).
    Both must accept the same values, and mean the instant PostgreSQL reads."""
    try:
        literal = lines.timestamp(value, "timestamp")
    except lines.Invalid:
        literal = None
    try:
        got = lines.micros(value, "timestamp")
    except lines.Invalid:
        got = None
    assert (got is None) == (literal is None), (value, literal, got)
    if literal is not None:
        assert got == scalar("select ((extract(epoch from %s::timestamptz) - 946684800)"
                             " * 1000000)::bigint", (literal,)), value


# --- the contract's one-pass decoder accepts only what the checkers accept ---------------

_ODD_VALUES = st.sampled_from([
    None, True, False, 0, 1, -1, 1.5, -0.0, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63),
    -(2**63) - 1, 10**30, "", "x", "2026-01-01T10:00:00Z", [], [1], {}, {"a": 1},
    {"propensity_scores": {}}, {"propensity_scores": None}, {"churn_probability": True,
                                                             "propensity_scores": {}},
    {"churn_probability": 2**70, "propensity_scores": {"x": 1}}, {"page_url": 1},
    {"page_url": None, "os": "linux"}, {"utm_source": ["a"]},
])
_FIELDS = ["event_id", "tenant_id", "user_id", "session_id", "event_name", "event_version",
           "timestamp", "received_at", "properties", "context", "user_properties",
           "attribution", "ml_features", "unknown_field"]
_raw_tails = st.sampled_from([
    b"", b',"event_id":"e-dup"', b',"event_id":7', b',"tenant_id":"ten_unknown"',
    b',"properties":{"n":1e400}', b',"properties":{"n":-1e-20000}',
    b',"properties":{"s":"\\u0000"}', b',"properties":{"s":"\\\\u0000"}',
    b',"properties":{"s":"\\ud800"}', b',"context":{"os":"a","os":2}',
    b',"context":{"os":2,"os":"a"}', b',"properties":{"deep":' + b"[" * 300 + b"]" * 300 + b"}",
    b',"properties":{"big":123456789012345678901234567890}', b',"x":NaN', b"\xff", b"}",
])


@st.composite
def _event_lines(draw) -> bytes:
    obj = dict(GOOD, event_version=draw(st.sampled_from(["1.0", "1.7", "2.0", "2.1", "3.0",
                                                           "x", 2])))
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=4, unique=True)):
        if draw(st.booleans()):
            obj.pop(name, None)
        else:
            obj[name] = draw(_ODD_VALUES | _json)
    body = json.dumps(obj).encode()  # any size of integer, as JSON allows
    return body[:-1] + draw(_raw_tails) + b"}"


def _verdict(line: bytes, ctx: lines.LineCtx):
    try:
        return "row", lines.classify(lines.ROW_FORMATS["events"].build, line, 1, ctx)
    except lines.Invalid as exc:
        return "invalid", exc.reason_code, exc.detail
    except lines.Held as held:
        return "held", held.row


def test_the_contract_has_a_one_pass_decoder():
    """Every version's rules share one struct today; should a new version break that, the
    loader still judges every line, only slower: this says so."""
    assert lines._fast_decode is not None


@hsettings(max_examples=1500, deadline=None)
@given(line=_event_lines())
def test_the_one_pass_decoder_gives_every_line_the_checkers_verdict(line):
    ctx = lines.LineCtx(batch_id=1, tenants=frozenset({"ten_ok"}),
                        loaded_at="2026-01-01T00:00:00+00:00")
    for version in ("1.0", "2.0"):  # versions seen before, as on any night but the first
        lines.validate_event(dict(GOOD, event_version=version))
    fast = _verdict(line, ctx)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lines, "_fast_decode", None)
        slow = _verdict(line, ctx)
    assert fast == slow, line


_RULES = (
    contract.FieldRule("s", True, (str,)), contract.FieldRule("si", False, (str, int)),
    contract.FieldRule("i", False, (int,)), contract.FieldRule("n", False, (int, float)),
    contract.FieldRule("b", False, (bool,)), contract.FieldRule("m", False, (dict,)),
    contract.FieldRule("l", False, (list,)),
    contract.FieldRule("r", False, (dict,), (contract.FieldRule("x", True, (int,)),)),
)


@hsettings(max_examples=800, deadline=None)
@given(obj=st.builds(
    lambda s, rest: {"s": s, **rest}, st.just("x") | _ODD_VALUES,
    # two fields at most: with more, nearly every example has one the struct refuses
    st.dictionaries(st.sampled_from([r.name for r in _RULES[1:]]),
                    _ODD_VALUES | _json | st.fixed_dictionaries({"x": _ODD_VALUES}),
                    max_size=2)))
def test_the_one_pass_type_accepts_only_what_the_generated_checks_accept(obj):
    """The same claim for every kind of rule a contract may have, integers included (the
    shipped contract has no integer field): what the struct decodes, the checks generated
    from the same rules pass, on orjson's reading of the same bytes."""
    line = json.dumps(obj).encode()
    try:
        msgspec.json.decode(line, type=contract._struct(_RULES, "Synthetic"))
    except msgspec.DecodeError:
        return
    contract.compile_checker(_RULES)(orjson.loads(line))


# --- the CLI killed, and several at once ------------------------------------------------

def _pulse_load(landing: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "pulse"), "load"],
        env={**os.environ, "PULSE_LANDING_DIR": str(landing)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def _wait_for(sql: str, proc: subprocess.Popen[str], what: str) -> None:
    """Poll the warehouse until `sql` is true (not a timed assertion: the bound only stops
    a hung test)."""
    for _ in range(6000):
        if scalar(sql):
            return
        if proc.poll() is not None:
            raise AssertionError(f"pulse load ended before {what}: {proc.communicate()}")
        time.sleep(0.01)
    raise AssertionError(f"never saw {what}")


BIG_LINES = 60_000


def _big_landing(landing: Path) -> dict[str, int]:
    _accounts(landing, DAY, ["ten_ok"])
    lines: list[bytes] = []
    expected = {"loaded": 0, "rejected": 0, "held": 0}
    for n in range(BIG_LINES):
        if n % 1000 == 7:
            lines.append(b'{"event_id": "broken')
            expected["rejected"] += 1
        elif n % 1000 == 11:
            lines.append(_event(n, tenant_id="ten_later"))
            expected["held"] += 1
        else:
            lines.append(_event(n, user_id=f"u-{n % 97}",
                                properties={"padding": "p" * 200, "n": n}))
            expected["loaded"] += 1
    _write(landing / f"events/dt={DAY}/big.ndjson.gz", lines)
    _write(landing / "events/dt=2026-01-02/small.ndjson.gz", [_event(10**7)])
    expected["loaded"] += 1
    return expected


def test_sigkill_at_three_moments_then_a_rerun_loses_and_duplicates_nothing(
        clean_warehouse, tmp_path):
    landing = tmp_path / "landing"
    expected = _big_landing(landing)
    pulse_cli("migrate")
    copying = ("select count(*) > 0 from pg_stat_progress_copy p join pg_class c"
               " on c.oid = p.relid where c.relname = 'events' and p.tuples_processed >= {}")
    moments = {
        "the COPY started": copying.format(1),
        "the COPY is half way": copying.format(BIG_LINES // 2),
        "the COPY is nearly done": copying.format(BIG_LINES * 9 // 10),
    }
    for moment, sql in moments.items():
        proc = _pulse_load(landing)
        _wait_for(sql, proc, moment)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        # killed inside the file's transaction: nothing of the file is kept, nothing is
        # left `loading`, and the accounts file loaded before it stays loaded once
        assert scalar("select count(*) from raw.load_ledger where status <> 'loaded'") == 0, \
            moment
        assert scalar("select count(*) from raw.events") == 0, moment
        assert scalar("select count(*) from raw.load_ledger") == 1, moment

    pulse_cli("load", env={"PULSE_LANDING_DIR": str(landing)})
    assert scalar("select count(*) from raw.events") == expected["loaded"]
    assert scalar("select count(distinct (batch_id, line_number)) from raw.events"
                  ) == expected["loaded"]
    assert scalar("select count(distinct event_id) from raw.events") == expected["loaded"]
    assert scalar("select count(*) from raw.rejected_events") == expected["rejected"]
    assert scalar("select count(*) from raw.held_events") == expected["held"]
    assert scalar("select count(*) from raw.load_ledger where status = 'loaded'") == 3
    assert _ledger_adds_up() == []


def _raw_state() -> dict[str, list[tuple]]:
    """The raw layer with batch ids replaced by file paths: what a load decided, row for
    row, independent of which process made the decision."""
    files = ("(select file_path from raw.load_ledger l where l.batch_id = {})")
    return {
        "ledger": query("select file_path, kind, status, line_count, rows_loaded,"
                        " rows_rejected, rows_held, rows_admitted from raw.load_ledger"
                        " order by file_path"),
        "events": query(f"select {files.format('e.batch_id')}, line_number, event_id, tenant_id,"
                        " event_ts, received_at, payload::text from raw.events e order by 1, 2"),
        "accounts": query(f"select {files.format('a.batch_id')}, line_number, tenant_id,"
                          " payload::text from raw.accounts a order by 1, 2"),
        "rejected": query("select file_path, line_number, reason_code, reason, tenant_id, line"
                          " from raw.rejected_events order by 1, 2"),
        "held": query(f"select file_path, line_number, status, "
                      f"{files.format('h.resolved_batch_id')}, resolved_line_number"
                      " from raw.held_events h order by 1, 2"),
    }


def _concurrent_landing(landing: Path) -> None:
    generate(landing, seed=11, tenants=4, users=80, days=5, start=DAY, dirty=0.05)
    # a tenant whose events arrive before its first export, and a tenant never exported
    for d in range(3):
        day = DAY + timedelta(days=d)
        _write(landing / f"events/dt={day}/late-tenant.ndjson.gz",
               [_event(900_000 + d * 100 + n, tenant_id=t,
                       timestamp=f"{day}T1{n % 10}:00:00.000Z",
                       received_at=f"{day}T1{n % 10}:00:01.000Z")
                for n in range(40) for t in ("ten_late", "ten_ghost")])
    _accounts(landing, DAY + timedelta(days=2), ["ten_late"], name="late-export")


def test_two_and_three_concurrent_loaders_equal_one(clean_warehouse, tmp_path):
    landing = tmp_path / "landing"
    _concurrent_landing(landing)
    pulse_cli("load", env={"PULSE_LANDING_DIR": str(landing)})
    one = _raw_state()
    assert any(row[2] == "admitted" for row in one["held"])
    assert any(row[2] == "held" for row in one["held"])

    for n in (2, 3):
        reset_schemas()
        pulse_cli("migrate")
        procs = [_pulse_load(landing) for _ in range(n)]
        outs = [p.communicate(timeout=600) for p in procs]
        assert [p.returncode for p in procs] == [0] * n, outs
        state = _raw_state()
        for table in one:
            assert state[table] == one[table], f"{n} loaders: raw {table} differs from one"
        assert _ledger_adds_up() == []


def test_files_side_by_side_decide_as_one_at_a_time(clean_warehouse, tmp_path):
    """--jobs N copies files in parallel but opens and commits them in load order
    (docs/loading.md): a tenant first listed by an accounts file still being committed
    when a later events file started is known to it, held lines are admitted and expired
    by the same files, and batch ids follow the load order."""
    landing = tmp_path / "landing"
    _concurrent_landing(landing)
    migrate.apply(log=lambda _m: None)
    loader.load(landing, jobs=1)
    one = _raw_state()
    order_one = query("select file_path from raw.load_ledger order by batch_id")
    for jobs in (2, 4):
        reset_schemas()
        migrate.apply(log=lambda _m: None)
        report = loader.load(landing, jobs=jobs)
        assert not report.problems
        state = _raw_state()
        for table in one:
            assert state[table] == one[table], f"--jobs {jobs}: raw {table} differs"
        assert query("select file_path from raw.load_ledger order by batch_id") == order_one
        assert _ledger_adds_up() == []


def test_jobs_bound_the_copies_not_the_files_waiting_to_commit(clean_warehouse, tmp_path,
                                                               monkeypatch):
    """--jobs 2 copies at most two files at once, and a file copied but waiting for its
    turn to commit does not hold one of the two: the next events file is copied while a
    day's accounts file waits behind the events file before it."""
    landing = tmp_path / "landing"
    for d in range(3):
        day = DAY + timedelta(days=d)
        _accounts(landing, day, ["ten_ok"])
        _write(landing / f"events/dt={day}/events-000.ndjson.gz", [_event(d)])
    migrate.apply(log=lambda _m: None)
    copy_lines, lock = loader._copy_lines, threading.Lock()
    now: set[str] = set()
    together: list[set[str]] = []

    def slow_copy(cur, lf, ctx):
        with lock:
            now.add(lf.rel)
            together.append(set(now))
        try:
            if lf.kind == "events":
                time.sleep(0.5)
            return copy_lines(cur, lf, ctx)
        finally:
            with lock:
                now.discard(lf.rel)

    monkeypatch.setattr(loader, "_copy_lines", slow_copy)
    report = loader.load(landing, jobs=2)
    assert not report.problems and report.rows_loaded == 6
    assert max(map(len, together)) == 2
    assert any(sum(f.startswith("events/") for f in files) == 2 for files in together)
    assert _ledger_adds_up() == []


# --- item 3: a new tenant's first days count ------------------------------------------

@pytest.mark.dbt_build
def test_a_tenant_exported_two_days_after_its_first_events_counts_in_dau(
        clean_warehouse, tmp_path):
    landing = tmp_path / "landing"
    start = DAY
    generate(landing, seed=21, tenants=2, users=20, days=4, start=start)
    # ten_fresh's users are active from day 0; its first accounts export lands on day 2
    with gzip.open(next((landing / "accounts").rglob("*.ndjson.gz"))) as fh:
        template = orjson.loads(fh.readline())
    for d in range(3):
        day = start + timedelta(days=d)
        _write(landing / f"events/dt={day}/fresh.ndjson.gz",
               [_event(800_000 + d * 10 + u, tenant_id="ten_fresh", user_id=f"fresh-{u}",
                       timestamp=f"{day}T12:0{u}:00.000Z", received_at=f"{day}T12:0{u}:01Z")
                for u in range(3 + d)])
    export_day = start + timedelta(days=2)
    _write(landing / f"accounts/dt={export_day}/fresh.ndjson.gz",
           [orjson.dumps({**template, "tenant_id": "ten_fresh",
                          "export_date": export_day.isoformat()})])
    env = {"PULSE_LANDING_DIR": str(landing)}
    dau = ("select activity_date, active_users from marts.daily_active_users"
           " where tenant_id = 'ten_fresh' order by 1")
    # the mart the test reads and what it is built from, with their tests
    build_dau = ("--select", "+daily_active_users", "--indirect-selection", "cautious")

    pulse_cli("load", "--through", (start + timedelta(days=1)).isoformat(), env=env)
    assert scalar("select count(*) from raw.held_events where status = 'held'") == 7
    dbt_build(*build_dau, data_tests=True)
    assert query(dau) == []  # not counted while held

    pulse_cli("load", "--through", export_day.isoformat(), env=env)
    assert scalar("select count(*) from raw.held_events where status = 'admitted'") == 7
    dbt_build(*build_dau, data_tests=True)
    assert query(dau) == [(start, 3), (start + timedelta(days=1), 4), (export_day, 5)]

    # loading again admits nothing twice
    pulse_cli("load", env=env)
    assert scalar("select count(*) from raw.events where tenant_id = 'ten_fresh'") == 12
    assert _ledger_adds_up() == []


def test_held_and_quarantined_lines_wait_on_disk_not_in_memory(clean_warehouse, tmp_path,
                                                                monkeypatch):
    """A tenant whose accounts export comes a day late has its whole first day held, and
    a broken collector can send a file of nothing but bad lines: the loader's memory must
    not grow with either (at xl, a 250,000-line file all held took the loader to 2.9 GB
    when the held rows were kept in a list)."""
    monkeypatch.setattr(loader, "SPOOL_BYTES", 64 << 10)
    landing = tmp_path / "landing"
    _accounts(landing, DAY, ["ten_ok"])
    padding = {"padding": "p" * 900}
    _write(landing / f"events/dt={DAY}/late-tenant.ndjson.gz",
           [_event(n, tenant_id="ten_later", properties=padding) for n in range(10_000)])
    _write(landing / f"events/dt={DAY}/broken-collector.ndjson.gz",
           [_event(n, properties=padding)[:-1] for n in range(10_000)])
    migrate.apply(log=lambda _m: None)
    tracemalloc.start()
    try:
        report = loader.load(landing, jobs=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not report.problems, report.summary()
    assert query("select count(*), sum(octet_length(line)) > 10e6 from raw.held_events"
                 " where status = 'held'") == [(10_000, True)]
    assert query("select reason_code, count(*), sum(octet_length(line)) > 10e6"
                 " from raw.rejected_events group by 1") == [("malformed_json", 10_000, True)]
    kept = scalar("select sum(octet_length(line)) from raw.held_events")
    kept += scalar("select sum(octet_length(line)) from raw.rejected_events")
    assert peak < kept / 4, (peak, kept)
    assert _ledger_adds_up() == []


def test_a_held_line_is_quarantined_for_good_after_the_grace_days(clean_warehouse, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("PULSE_UNKNOWN_TENANT_GRACE_DAYS", "2")
    landing = tmp_path / "landing"
    _accounts(landing, DAY, ["ten_ok"])
    _write(landing / f"events/dt={DAY}/events.ndjson.gz",
           [_event(1, tenant_id="ten_gone"), _event(2)])
    migrate.apply(log=lambda _m: None)
    for d in range(4):
        day = DAY + timedelta(days=d)
        _write(landing / f"events/dt={day}/tick.ndjson.gz", [_event(10 + d)])
        loader.load(landing, through=day)
        expired = scalar("select count(*) from raw.rejected_events"
                         " where reason_code = 'unknown_tenant'")
        # held while days 0 and 1 load; quarantined when day 2 (0 + 2 grace days) loads
        assert expired == (1 if d >= 2 else 0), day
    # an export listing the tenant later admits nothing: the line is quarantined for good
    _accounts(landing, DAY + timedelta(days=4), ["ten_gone"], name="gone")
    loader.load(landing)
    assert scalar("select count(*) from raw.events where tenant_id = 'ten_gone'") == 0
    reason = scalar("select reason from raw.rejected_events where reason_code = 'unknown_tenant'")
    assert "ten_gone" in reason and "PULSE_UNKNOWN_TENANT_GRACE_DAYS" in reason
    assert _ledger_adds_up() == []
