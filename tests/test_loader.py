"""The raw loader against a real PostgreSQL: idempotent, loses nothing, quarantines faults."""

from __future__ import annotations

import gzip
import shutil
from datetime import date
from pathlib import Path

import orjson
import pytest

from generators import generate
from pulse import loader, migrate
from tests.conftest import query, scalar

SMALL = {"tenants": 3, "users": 60, "days": 6, "start": date(2026, 1, 1)}


@pytest.fixture(scope="module")
def dirty_landing(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("landing_dirty")
    tally = generate(out, seed=7, dirty=0.05, **SMALL)
    return out, tally


def _table_state() -> list[tuple]:
    return query(
        "select (select count(*) from raw.events), (select count(*) from raw.accounts),"
        " (select count(*) from raw.rejected_events), (select count(*) from raw.load_ledger),"
        " (select coalesce(sum(hashtext(event_id || batch_id || line_number)), 0)"
        "  from raw.events)"
    )


def test_counts_match_the_generators_tally(clean_warehouse, dirty_landing):
    landing, tally = dirty_landing
    migrate.apply(log=lambda _m: None)
    report = loader.load(landing)

    assert not report.problems
    faults = tally["faults"]
    assert sum(faults.values()) > 0, "the dirty data set should contain faults"
    assert tally["duplicates"] > 0 and tally["late"] > 0

    # Every valid line is in raw (duplicates included: raw is append-only) ...
    assert scalar("select count(*) from raw.events") == tally["valid_lines"]
    # ... every invalid line is in quarantine, under the reason for its kind of fault ...
    # (lines of a tenant in no accounts export wait in raw.held_events: the data set's six
    # days are within the grace period, so none is quarantined for good yet) ...
    by_reason = dict(query("select reason_code, count(*) from raw.rejected_events group by 1"))
    by_reason["unknown_tenant"] = by_reason.get("unknown_tenant", 0) + scalar(
        "select count(*) from raw.held_events where status = 'held'")
    assert by_reason == {k: v for k, v in faults.items() if v}
    # ... and nothing was dropped: lines in = lines loaded + quarantined + held, per file.
    for rel, counts in tally["files"].items():
        if not rel.startswith("events/"):
            continue
        loaded, rejected, held, lines = query(
            "select rows_loaded, rows_rejected, rows_held, line_count from raw.load_ledger"
            " where file_path = %s", (rel,)
        )[0]
        assert loaded + rejected + held == counts["lines"] == lines, rel
        assert loaded == counts["valid"], rel
    assert scalar("select count(distinct event_id) from raw.events") == tally["unique_events"]


def test_loading_twice_changes_nothing(clean_warehouse, dirty_landing):
    landing, _ = dirty_landing
    migrate.apply(log=lambda _m: None)
    first = loader.load(landing)
    state = _table_state()
    second = loader.load(landing)
    assert second.count("loaded") == 0
    assert second.count("skipped") == len(first.files)
    assert _table_state() == state


def test_one_run_per_day_loads_the_same_as_one_run(clean_warehouse, dirty_landing):
    landing, _ = dirty_landing
    migrate.apply(log=lambda _m: None)
    for offset in range(SMALL["days"] + 7):  # late files land after the last event day
        loader.load(landing, through=date.fromordinal(SMALL["start"].toordinal() + offset))
    per_day = scalar("select count(*) from raw.events")
    loader.load(landing)
    assert scalar("select count(*) from raw.events") == per_day


def test_a_changed_file_is_refused_and_the_rest_still_load(clean_warehouse, dirty_landing,
                                                           tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    shutil.copytree(dirty_landing[0], landing)
    migrate.apply(log=lambda _m: None)
    days = sorted(p.name for p in (landing / "events").iterdir())
    loader.load(landing, through=date.fromisoformat(days[0].removeprefix("dt=")))
    before = scalar("select count(*) from raw.events")

    first_file = next((landing / "events" / days[0]).glob("*.ndjson.gz"))
    with gzip.open(first_file, "ab") as fh:  # same name, other bytes
        fh.write(b'{"late": "edit"}\n')
    report = loader.load(landing)

    refused = [f for f in report.problems if f.status == "refused"]
    assert [f.file.rel for f in refused] == [first_file.relative_to(landing).as_posix()]
    assert "bytes have changed" in refused[0].message
    assert "new file name" in refused[0].message  # says what to do next
    assert report.count("loaded") > 0, "the other files must still load"
    assert scalar("select count(*) from raw.events") > before
    assert loader.changed_since_loaded(landing) == [refused[0].file.rel]

    # The nightly task fails at once rather than retry: the file stays refused until
    # someone acts, and a retry would hold the night 5, then 10 minutes for nothing.
    from airflow.sdk.exceptions import AirflowFailException

    from pulse import orchestration

    monkeypatch.setenv("PULSE_LANDING_DIR", str(landing))
    with pytest.raises(AirflowFailException, match="bytes have changed"):
        orchestration.load_landing(date.fromisoformat(days[-1].removeprefix("dt=")))


def _deflate_start(gz: bytes) -> int:
    """Where a gzip member's deflate data starts: after the 10-byte header and, when the
    FNAME flag is set, the file name (RFC 1952)."""
    return gz.index(b"\0", 10) + 1 if gz[3] & 8 else 10


@pytest.mark.parametrize("damage, says", [
    (lambda b: b[: len(b) // 2], "end-of-stream marker"),  # truncated
    # the first deflate block's type made the reserved one (its header's bits 1-2 = 11)
    (lambda b: b[:_deflate_start(b)] + b"\xff" + b[_deflate_start(b) + 1:], "block"),
    (lambda b: b[: len(b) // 2] + b"\x00" * 64 + b[len(b) // 2 + 64:], "CRC check failed"),
], ids=["truncated", "bad-deflate-block", "bad-checksum"])
def test_a_damaged_file_loads_nothing_and_can_be_landed_again(clean_warehouse, tmp_path,
                                                               damage, says):
    landing = tmp_path / "landing"
    generate(landing, seed=3, tenants=2, users=10, days=2, start=date(2026, 1, 1))
    migrate.apply(log=lambda _m: None)
    target = sorted((landing / "events").glob("dt=*/*.ndjson.gz"))[-1]
    good = target.read_bytes()
    target.write_bytes(damage(good))

    report = loader.load(landing)
    failed = report.problems
    assert [f.status for f in failed] == ["failed"]
    assert "cannot read" in failed[0].message and says in failed[0].message
    assert "Re-land the file" in failed[0].message
    rel = target.relative_to(landing).as_posix()
    assert scalar("select status from raw.load_ledger where file_path = %s", (rel,)) == "failed"
    assert scalar(
        "select count(*) from raw.events e join raw.load_ledger l using (batch_id)"
        " where l.file_path = %s", (rel,)
    ) == 0

    target.write_bytes(good)
    again = loader.load(landing)
    assert not again.problems and again.count("loaded") == 1
    assert scalar("select status from raw.load_ledger where file_path = %s", (rel,)) == "loaded"


def test_every_kind_of_bad_line_is_quarantined_with_its_reason(clean_warehouse, tmp_path):
    landing = tmp_path / "landing"
    (landing / "accounts" / "dt=2026-01-01").mkdir(parents=True)
    (landing / "events" / "dt=2026-01-01").mkdir(parents=True)
    account = {"export_date": "2026-01-01", "tenant_id": "ten_ok", "plan": "starter",
               "status": "active", "seats": 5, "mrr": 99.0}
    with gzip.open(landing / "accounts/dt=2026-01-01/accounts.ndjson.gz", "wb") as fh:
        fh.write(orjson.dumps(account) + b"\n")
    good = {"event_id": "e-1", "tenant_id": "ten_ok", "user_id": "u-1", "session_id": None,
            "event_name": "user.logged_in", "event_version": "1.0",
            "timestamp": "2026-01-01T10:00:00.000Z", "received_at": "2026-01-01T10:00:01Z",
            "properties": {"note": "tab\tand \\ backslash"}, "context": None,
            "user_properties": None}
    cases: list[tuple[bytes, str | None]] = [
        (orjson.dumps(good), None),
        (b'{"event_id": "e-2", "tenant_id":', "malformed_json"),
        (b"[1, 2, 3]", "not_an_object"),
        (orjson.dumps({k: v for k, v in good.items() if k != "user_id"}), "missing_field"),
        (orjson.dumps({**good, "event_id": 42}), "wrong_type"),
        (orjson.dumps({**good, "event_id": "e-5", "context": {"os": 7}}), "wrong_type"),
        (orjson.dumps({**good, "event_id": "e-6", "timestamp": "yesterday"}), "bad_timestamp"),
        (orjson.dumps({**good, "event_id": "e-7", "timestamp": "2026-01-01T10:00:00"}),
         "bad_timestamp"),
        (orjson.dumps({**good, "event_id": "e-8", "tenant_id": "ten_nobody"}), None),  # held
        (orjson.dumps({**good, "event_id": "e-9", "event_version": "9.0"}), "unknown_version"),
        (b'{"event_id": "e-10", "x": "\\u0000"}', "unsupported_character"),
        (b'{"event_id": "\xff\xfe"}', "invalid_utf8"),
        (orjson.dumps({**good, "event_id": "e-11"}).replace(b":", b":\t", 1), None),
    ]
    with gzip.open(landing / "events/dt=2026-01-01/events-000.ndjson.gz", "wb") as fh:
        for line, _ in cases:
            fh.write(line + b"\n")

    migrate.apply(log=lambda _m: None)
    report = loader.load(landing)
    assert not report.problems

    expected = {n: reason for n, (_, reason) in enumerate(cases, start=1) if reason}
    got = dict(query("select line_number, reason_code from raw.rejected_events"))
    assert got == expected
    # an unknown tenant's event waits for the tenant's first accounts export
    assert query("select line_number, tenant_id, status from raw.held_events") == [
        (9, "ten_nobody", "held")]
    assert sorted(r[0] for r in query("select event_id from raw.events")) == ["e-1", "e-11"]
    # The payload is kept exactly: tabs and backslashes survive COPY's text format.
    assert scalar("select payload->'properties'->>'note' from raw.events where event_id='e-1'"
                  ) == "tab\tand \\ backslash"
    # Each quarantined line is kept as text, with a reason a person can act on.
    reason = scalar("select reason from raw.rejected_events where reason_code = 'missing_field'")
    assert "user_id" in reason
