"""The synthetic data generator: reproducibility, the event contract, dirty-mode bookkeeping.

Everything runs on tiny or small sizes and needs no database.

Over 300 lines on purpose: the generator's properties share one generated data set per
module (generating it is the slow part).
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import fastavro
import orjson
import pytest

from generators import generate
from generators.catalog import EVENTS, FEATURES
from generators.cli import main

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = REPO / "generators" / "contracts"
SEEDS = REPO / "dbt_project" / "seeds"
REQUIRED = ("event_id", "tenant_id", "user_id", "event_name", "timestamp")
TINY = {"tenants": 3, "users": 60, "days": 10}
SMALL = {"tenants": 12, "users": 300, "days": 50}


def read_lines(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as f:
        return f.read().splitlines()


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def catalog(name: str) -> list[dict[str, str]]:
    with open(SEEDS / name, newline="") as f:
        return list(csv.DictReader(f))


def known_tenants(root: Path) -> set[str]:
    return {
        orjson.loads(line)["tenant_id"]
        for p in root.glob("accounts/dt=*/accounts.ndjson.gz")
        for line in read_lines(p)
    }


def classify(line: bytes, tenants: set[str]) -> tuple[str, dict | None]:
    """Independent of the generator: which fault a line shows, or 'valid'."""
    try:
        ev = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "malformed_json", None
    if not isinstance(ev, dict):
        return "not_an_object", None
    if any(k not in ev for k in REQUIRED):
        return "missing_field", None
    if not all(isinstance(ev[k], str) for k in REQUIRED) or not isinstance(
        ev.get("properties"), dict | None
    ):
        return "wrong_type", None
    if ev["tenant_id"] not in tenants:
        return "unknown_tenant", None
    return "valid", ev


def scan(root: Path) -> dict:
    """Reads every event file back and recounts what the tally claims."""
    tenants = known_tenants(root)
    per_file: dict[str, dict] = {}
    valid: list[tuple[str, dict]] = []
    for p in sorted(root.glob("events/dt=*/events-*.ndjson.gz")):
        rel = p.relative_to(root).as_posix()
        lines = read_lines(p)
        faults = Counter()
        for line in lines:
            kind, ev = classify(line, tenants)
            if ev is None:
                faults[kind] += 1
            else:
                valid.append((rel, ev))
        per_file[rel] = {"lines": len(lines), "faults": faults, "duplicates": 0, "late": 0}
    # the earliest received copy of an id is the original; later copies are resends
    first: dict[str, tuple[str, str]] = {}
    dups: list[str] = []
    for rel, ev in sorted(valid, key=lambda x: (x[1]["received_at"], x[0])):
        if ev["event_id"] in first:
            dups.append(rel)
        else:
            first[ev["event_id"]] = (rel, ev["timestamp"])
    for rel in dups:
        per_file[rel]["duplicates"] += 1
    for rel, ts in first.values():
        file_day = date.fromisoformat(rel.split("dt=")[1][:10])
        if (file_day - date.fromisoformat(ts[:10])).days >= 2:
            per_file[rel]["late"] += 1
    return {"files": per_file, "valid": valid, "ids": set(first)}


@pytest.fixture(scope="module")
def tiny_clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tiny_clean")
    return out, generate(out, seed=7, **TINY)


@pytest.fixture(scope="module")
def tiny_dirty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tiny_dirty")
    return out, generate(out, seed=7, dirty=0.05, **TINY)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("small")
    return out, generate(out, seed=11, **SMALL)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, seed=3, dirty=0.02, **TINY)
    generate(b, seed=3, dirty=0.02, **TINY)
    generate(c, seed=4, dirty=0.02, **TINY)
    ta, tb, tc = tree(a), tree(b), tree(c)
    assert ta.keys() == tb.keys()
    for name in ta:
        assert ta[name] == tb[name], name
    assert ta.keys() == tc.keys()
    assert any(ta[n] != tc[n] for n in ta if n.startswith("events/"))


def test_layout_and_tally_shape(tiny_clean: tuple[Path, dict]) -> None:
    out, tally = tiny_clean
    assert json.loads((out / "_tally.json").read_text()) == tally
    assert (out / "_tally.json").read_text() == json.dumps(tally, indent=2, sort_keys=True) + "\n"
    days = sorted(p.name for p in (out / "events").iterdir())
    assert days == [f"dt={date(2026, 1, 1) + timedelta(days=i)}" for i in range(10)]
    assert len(list((out / "accounts").iterdir())) == 10
    for rel in tally["files"]:
        assert (out / rel).is_file()
        raw = (out / rel).read_bytes()
        assert raw[4:8] == b"\0\0\0\0"  # gzip mtime 0
        assert raw[3] & 0x08 == 0  # no file name in the header
    # clean run: nothing but valid lines
    assert tally["duplicates"] == tally["late"] == sum(tally["faults"].values()) == 0
    assert tally["valid_lines"] == tally["unique_events"] == tally["lines"]
    assert 1500 <= tally["unique_events"] <= 10_000


def test_lines_ordered_by_received_at(tiny_dirty: tuple[Path, dict]) -> None:
    out, tally = tiny_dirty
    tenants = known_tenants(out)
    for rel in tally["files"]:
        received = [
            ev["received_at"]
            for line in read_lines(out / rel)
            for kind, ev in [classify(line, tenants)]
            if ev is not None
        ]
        assert received == sorted(received), rel
        day = rel.split("dt=")[1][:10]
        assert all(r.startswith(day) for r in received)


def test_valid_lines_match_their_avro_schema(tiny_dirty: tuple[Path, dict]) -> None:
    out, _ = tiny_dirty
    schemas = {
        v: fastavro.parse_schema(json.loads((CONTRACTS / f"event_v{v}.avsc").read_text()))
        for v in ("1", "2")
    }
    versions = Counter()
    for _, ev in scan(out)["valid"]:
        major = ev["event_version"].split(".")[0]
        versions[major] += 1
        assert fastavro.validation.validate(ev, schemas[major], raise_errors=True)
        for field in ("timestamp", "received_at"):
            value = ev[field]
            assert len(value) == 24 and value.endswith("Z") and value[19] == ".", value
        assert ev["timestamp"] <= ev["received_at"]
        if major == "2":
            assert "attribution" in ev and ev["ml_features"] is None
        else:
            assert "attribution" not in ev
    assert versions["1"] > 0 and versions["2"] > 0


def test_names_come_from_the_catalogs(small: tuple[Path, dict]) -> None:
    out, tally = small
    events = catalog("event_catalog.csv")
    features = catalog("feature_catalog.csv")
    names = [e["event_name"] for e in events]
    fnames = [f["feature_name"] for f in features]
    assert len(names) == len(set(names)) and len(fnames) == len(set(fnames))
    assert {e["counts_as_active"] for e in events} == {"true", "false"}
    assert {f["is_core"] for f in features} == {"true", "false"}
    # the CSV seeds are the downstream copy of generators/catalog.py
    assert names == sorted(e.name for e in EVENTS)
    assert fnames == [f.name for f in FEATURES]
    active = {e["event_name"]: e["counts_as_active"] == "true" for e in events}
    assert not active["notification.email_opened"] and not active["session.ended"]
    assert active["feature.used"]
    seen_events, seen_features = set(), set()
    for _, ev in scan(out)["valid"]:
        seen_events.add(ev["event_name"])
        if ev["event_name"] == "feature.used":
            seen_features.add(ev["properties"]["feature_name"])
    assert seen_events <= set(names)
    assert seen_features <= set(fnames)
    assert {"user.signed_up", "feature.used", "onboarding.completed", "session.ended",
            "billing.payment_completed"} <= seen_events
    assert set(tally["events_by_name"]) == seen_events


def test_tiny_has_the_basics(tiny_clean: tuple[Path, dict]) -> None:
    _, tally = tiny_clean
    by_name = tally["events_by_name"]
    assert by_name["user.signed_up"] >= 1 and by_name["feature.used"] >= 1


def test_dirty_run_keeps_the_clean_events(
    tiny_clean: tuple[Path, dict], tiny_dirty: tuple[Path, dict]
) -> None:
    clean_out, clean_tally = tiny_clean
    dirty_out, tally = tiny_dirty
    clean, dirty = scan(clean_out), scan(dirty_out)
    assert dirty["ids"] == clean["ids"]
    assert len(clean["ids"]) == clean_tally["unique_events"] == tally["unique_events"]
    # every valid dirty line, resends included, carries the clean payload (received_at aside)
    clean_by_id = {ev["event_id"]: ev for _, ev in clean["valid"]}
    for _, ev in dirty["valid"]:
        assert {**ev, "received_at": None} == {**clean_by_id[ev["event_id"]], "received_at": None}
    found = dirty["files"]
    assert set(found) == set(tally["files"])
    for rel, claimed in tally["files"].items():
        f = found[rel]
        assert f["lines"] == claimed["lines"], rel
        assert {k: f["faults"][k] for k in claimed["faults"]} == claimed["faults"], rel
        assert f["duplicates"] == claimed["duplicates"], rel
        assert f["late"] == claimed["late"], rel
        assert claimed["valid"] == claimed["lines"] - sum(claimed["faults"].values())
    assert all(n > 0 for n in tally["faults"].values()), tally["faults"]
    assert tally["duplicates"] > 0 and tally["late"] > 0
    assert tally["valid_lines"] == tally["unique_events"] + tally["duplicates"]


def test_fault_lines_carry_fresh_ids(
    tiny_clean: tuple[Path, dict], tiny_dirty: tuple[Path, dict]
) -> None:
    clean_ids = scan(tiny_clean[0])["ids"]
    out = tiny_dirty[0]
    tenants = known_tenants(out)
    for p in out.glob("events/dt=*/*.gz"):
        for line in read_lines(p):
            kind, _ = classify(line, tenants)
            if kind in ("missing_field", "wrong_type", "unknown_tenant"):
                eid = orjson.loads(line).get("event_id")
                assert eid not in clean_ids


def test_accounts_export(small: tuple[Path, dict]) -> None:
    out, _ = small
    rows = [
        orjson.loads(line)
        for p in sorted(out.glob("accounts/dt=*/accounts.ndjson.gz"))
        for line in read_lines(p)
    ]
    fields = {
        "export_date", "tenant_id", "name", "domain", "industry", "company_size", "plan",
        "seats", "monthly_event_limit", "mrr", "currency", "status", "created_at", "churned_at",
    }
    limits = {"starter": 100_000, "professional": 1_000_000, "enterprise": 10_000_000}
    for row in rows:
        assert set(row) == fields
        assert row["monthly_event_limit"] == limits[row["plan"]]
        assert row["status"] in ("trialing", "active", "churned")
        assert row["currency"] == "USD" and round(row["mrr"], 2) == row["mrr"]
        if row["status"] == "churned":
            assert row["mrr"] == 0 and row["churned_at"] <= row["export_date"]
        else:
            assert row["churned_at"] is None
        if row["status"] == "active":
            assert row["mrr"] > 0
        assert row["created_at"] <= row["export_date"]
        if row["plan"] == "starter":
            assert 1 <= row["seats"] <= 5
        elif row["plan"] == "professional":
            assert row["seats"] <= 25
        else:
            assert 30 <= row["seats"] <= 300
    # once churned, always listed as churned
    by_tenant: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: r["export_date"]):
        by_tenant.setdefault(row["tenant_id"], []).append(row["status"])
    for statuses in by_tenant.values():
        if "churned" in statuses:
            i = statuses.index("churned")
            assert set(statuses[i:]) == {"churned"}


def test_billing_events_match_the_export(small: tuple[Path, dict]) -> None:
    out, _ = small
    export = {
        (r["tenant_id"], r["export_date"]): r
        for p in out.glob("accounts/dt=*/accounts.ndjson.gz")
        for r in map(orjson.loads, read_lines(p))
    }
    seen = Counter()
    for _, ev in scan(out)["valid"]:
        name = ev["event_name"]
        if not name.startswith("billing."):
            continue
        seen[name] += 1
        assert ev["session_id"] is None
        row = export[(ev["tenant_id"], ev["timestamp"][:10])]
        props = ev["properties"]
        if name in ("billing.plan_upgraded", "billing.plan_downgraded"):
            assert row["plan"] == props["to_plan"] and row["seats"] == props["seats"]
            assert row["mrr"] == props["mrr"]
        elif name == "billing.seats_changed":
            assert row["seats"] == props["to_seats"] and row["mrr"] == props["mrr"]
        elif name == "billing.payment_completed":
            assert row["status"] == "active" and row["mrr"] == props["amount"]
        elif name == "billing.subscription_cancelled":
            assert row["status"] == "churned"
    assert seen["billing.payment_completed"] > 0


def test_users_and_sessions(small: tuple[Path, dict]) -> None:
    out, tally = small
    valid = [ev for _, ev in scan(out)["valid"]]
    first_touch: dict[str, str] = {}
    signups = Counter()
    client = nulls = 0
    first_event: dict[str, str] = {}
    for ev in sorted(valid, key=lambda e: e["timestamp"]):
        first_event.setdefault(ev["user_id"], ev["event_name"])
        if ev["event_name"] == "user.signed_up":
            signups[ev["user_id"]] += 1
            consent = ev["properties"]["consent"]
            assert set(consent) == {
                "analytics_tracking", "behavioral_analysis", "marketing_attribution",
                "ml_predictions",
            }
            if ev["event_version"].startswith("2"):
                a = ev["attribution"]
                assert a is not None and a["first_touch_channel"]
        if ev.get("attribution"):
            ft = ev["attribution"]["first_touch_channel"]
            assert first_touch.setdefault(ev["user_id"], ft) == ft
        if ev["context"] is not None:
            client += 1
            nulls += ev["session_id"] is None
    assert set(signups.values()) == {1}
    for uid in signups:
        assert first_event[uid] in ("user.signed_up", "user.invited", "notification.email_opened")
    assert 0.01 < nulls / client < 0.06
    users = {ev["user_id"] for ev in valid}
    assert 0.45 < len(signups) / len(users) < 0.9  # the rest existed before the period
    assert tally["users_churned"] > 0


def test_cli_refuses_foreign_folder_and_reruns_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["--out", str(foreign), "--size", "tiny", "--no-progress"]) != 0
    assert "refusing" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "mine"

    out = tmp_path / "out"
    args = ["--out", str(out), "--size", "tiny", "--no-progress", "--seed", "5"]
    assert main([*args, "--days", "12"]) == 0
    assert "events" in capsys.readouterr().out
    assert main(args) == 0
    first = tree(out)
    assert not any("2026-01-11" in name or "2026-01-12" in name for name in first)
    assert main(args) == 0
    assert tree(out) == first


def test_at_limit_tenant_sends_its_plans_monthly_limit(tmp_path: Path) -> None:
    """The xl preset's Enterprise customer (docs/scale-out.md), shrunk: at a share of its
    plan's monthly limit every day, spread over the month's days, never over the limit."""
    from generators import size_params
    from generators.catalog import PLANS

    share = 0.002  # 20,000 events a month
    tally = generate(tmp_path / "out", seed=3, tenants=20, users=120, days=3,
                     start=date(2026, 1, 1), at_limit=share)
    assert tally["params"]["at_limit"] == share
    per_tenant: Counter[str] = Counter()
    plans: dict[str, str] = {}
    for path in sorted((tmp_path / "out" / "events").glob("dt=*/*.ndjson.gz")):
        with gzip.open(path) as fh:
            for line in fh:
                ev = orjson.loads(line)
                if ev.get("event_name") == "api.request_completed":
                    per_tenant[ev["tenant_id"]] += 1
    with gzip.open(tmp_path / "out" / "accounts" / "dt=2026-01-01" / "accounts.ndjson.gz") as fh:
        for line in fh:
            row = orjson.loads(line)
            plans[row["tenant_id"]] = row["plan"]
    tenant, api_events = per_tenant.most_common(1)[0]
    assert plans[tenant] == "enterprise"
    limit_3_days = PLANS["enterprise"].monthly_event_limit * share * 3 / 31
    assert 0.95 * limit_3_days <= api_events <= limit_3_days
    assert size_params("xl", 0.05) == {"tenants": 200, "users": 2000, "days": 31,
                                       "at_limit": 0.05}
