"""Consent from the users export (docs/privacy.md "Consent", docs/event-contract.md
"Users export"): the generator writes it, the loader loads and quarantines it, dbt takes
consent from it, and a withdrawal in it deletes scores and leaves training.

The generator and loader tests are fast; the last two share one small warehouse built
with the real loader, dbt, training and scoring.
"""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from generators import generate
from pulse.ml import features as F
from pulse.ml.registry import Ranges
from pulse.ml.score import score_day
from pulse.ml.train import train
from tests.conftest import NO_TESTS, marks, pulse_cli, query, reset_schemas, scalar

START = date(2026, 1, 1)


def _lines(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _exports(landing: Path) -> list[dict]:
    return [row for path in sorted((landing / "users").glob("dt=*/*.ndjson.gz"))
            for row in _lines(path)]


def _events(landing: Path) -> list[dict]:
    return [ev for path in sorted((landing / "events").glob("dt=*/*.ndjson.gz"))
            for ev in _lines(path)]


def test_the_users_export_lists_every_user_and_every_consent_choice(tmp_path):
    landing = tmp_path / "landing"
    tally = generate(landing, seed=11, tenants=3, users=120, days=40, start=START)
    rows = _exports(landing)
    assert len(tally["users_files"]) == 40
    assert sum(f["lines"] for f in tally["users_files"].values()) == len(rows)
    first = [r for r in rows if r["export_date"] == START.isoformat()]
    # users who predate the data are all in the first export, with their consent
    predating = [r for r in first if r["created_at"] < START.isoformat()]
    assert len(predating) > 20
    assert all(set(r["consent"]) == {"analytics_tracking", "behavioral_analysis",
                                     "marketing_attribution", "ml_predictions"} for r in rows)
    events = _events(landing)
    event_users = {(e["tenant_id"], e["user_id"]) for e in events}
    assert event_users <= {(r["tenant_id"], r["user_id"]) for r in rows}
    # every consent event has its export row: same day, same instant, same flags
    by_key = {(r["tenant_id"], r["user_id"], r["consent_updated_at"]): r for r in rows}
    choices = [e for e in events if e["event_name"] in ("user.signed_up",
                                                          "user.consent_updated")]
    assert any(e["event_name"] == "user.consent_updated" for e in choices)
    for ev in choices:
        row = by_key[(ev["tenant_id"], ev["user_id"], ev["timestamp"])]
        assert row["consent"] == ev["properties"]["consent"]
        assert row["export_date"] == ev["timestamp"][:10]
    # nobody is listed twice a day; a user is listed again only for a consent change
    days_of = {}
    for r in rows:
        days_of.setdefault((r["tenant_id"], r["user_id"]), []).append(r["export_date"])
    assert all(len(d) == len(set(d)) for d in days_of.values())
    changes = sum(1 for e in choices if e["event_name"] == "user.consent_updated")
    assert len(rows) - len(days_of) == changes


def _write(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as fh:
        fh.write(b"\n".join(lines) + b"\n")


def test_the_loader_loads_users_exports_and_quarantines_bad_lines(clean_warehouse, tmp_path):
    landing = tmp_path / "landing"
    generate(landing, seed=11, tenants=2, users=20, days=2, start=START)
    good = _exports(landing)
    bad = {
        b"{not json": "malformed_json",
        b'{"export_date": "2026-01-02", "tenant_id": "t", "user_id": "u",'
        b' "consent_updated_at": "2026-01-02T00:00:00Z"}': "missing_field",
        json.dumps({**good[0], "consent": {**good[0]["consent"], "ml_predictions": "no"}})
        .encode(): "wrong_type",
        json.dumps({**good[0], "consent_updated_at": "yesterday"}).encode(): "bad_timestamp",
    }
    _write(landing / "users" / "dt=2026-01-02" / "users-extra.ndjson.gz",
           [json.dumps(good[0]).encode(), *bad])
    env = {"PULSE_LANDING_DIR": str(landing)}
    pulse_cli("load", env=env)
    assert scalar("select count(*) from raw.users") == len(good) + 1
    assert query("select reason_code, kind from raw.rejected_events order by line_number") == [
        (code, "users") for code in bad.values()]
    assert scalar("select sum(rows_loaded + rows_rejected) = sum(line_count)"
                  " from raw.load_ledger where kind = 'users'")
    # loading again changes nothing
    pulse_cli("load", env=env)
    assert scalar("select count(*) from raw.users") == len(good) + 1
    assert scalar("select count(*) from raw.rejected_events") == len(bad)


# --- one small warehouse: real load, dbt, training and scoring --------------------------

DAYS = 45
LAST = START + timedelta(days=DAYS - 1)
RANGES = Ranges(date(2026, 1, 4), date(2026, 1, 10), date(2026, 1, 12), date(2026, 1, 15),
                data_through=LAST)
PARAMS = {"max_iter": 20}
ML_SELECT = ("--select", "+marts.ml", "--indirect-selection", "cautious")


def _build(env: dict[str, str]) -> None:
    pulse_cli("load", env=env)
    pulse_cli("dbt", "build", "--quiet", *ML_SELECT, *NO_TESTS, env=env)


@pytest.fixture(scope="module")
@marks("dbt_build")
def scored(warehouse_db, tmp_path_factory):
    base = tmp_path_factory.mktemp("consent")
    landing = base / "landing"
    generate(landing, seed=7, tenants=3, users=150, days=DAYS, start=START)
    env = {"PULSE_LANDING_DIR": str(landing), "PULSE_DATA_DIR": str(base / "data")}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        reset_schemas()
        _build(env)
        model = train(ranges=RANGES, params=PARAMS)
        for day in (LAST - timedelta(days=1), LAST):
            score_day(day, model["model_version"])
        yield {"landing": landing, "env": env, "model": model}


def test_users_who_predate_the_data_get_consent_from_the_export_and_are_scored(scored):
    # their current ML consent, which only the export gives them (no signup event)
    predating = query(
        "select distinct c.tenant_id, c.user_id, c.consent_ml_predictions"
        " from staging.stg_pulse__users u join marts.ml_user_consent_periods c"
        "  using (tenant_id, user_id)"
        " where u.created_at < %s and c.valid_to is null and not exists (select 1"
        "  from staging.stg_pulse__events e where e.user_id = u.user_id"
        "  and e.event_name = 'user.signed_up')", (START,))
    assert len(predating) > 30
    consenting = {(t, u) for t, u, ok in predating if ok}
    assert 0 < len(consenting) < len(predating)
    scored_users = set(query("select tenant_id, user_id from ml.ml_features where scored_at = %s",
                             (LAST,)))
    active = set(query("select tenant_id, user_id from marts.ml_user_feature_snapshots"
                       " where snapshot_date = %s", (LAST,)))
    assert consenting & active and consenting & active <= scored_users
    refused = {(t, u) for t, u, ok in predating if not ok}
    assert not refused & scored_users


def test_a_withdrawal_in_the_users_export_deletes_scores_and_leaves_training(scored):
    env = scored["env"]
    train_days = F.days_between(RANGES.train_start, RANGES.train_end)
    # a user who predates the data, is trained on and was scored on both days
    tenant, user, trained_rows = query(
        "select s.tenant_id, s.user_id, count(*) from marts.ml_user_feature_snapshots s"
        " where s.snapshot_date = any(%s::date[]) and s.consent_ml_predictions"
        "  and s.is_active_customer and s.churned_next_30d is not null"
        "  and exists (select 1 from staging.stg_pulse__users u where u.user_id = s.user_id"
        "   and u.tenant_id = s.tenant_id and u.created_at < %s)"
        "  and (select count(*) from ml.ml_features f where f.user_id = s.user_id) = 2"
        " group by 1, 2 order by 3 desc, 2 limit 1", (train_days, START))[0]
    before = train(ranges=RANGES, params=PARAMS, register=False)
    others = scalar("select count(*) from ml.ml_features where user_id <> %s", (user,))

    # the application's next export: the user withdrew ML consent on the last day
    row = next(r for r in _exports(scored["landing"])
               if r["tenant_id"] == tenant and r["user_id"] == user)
    withdrawal = {**row, "export_date": LAST.isoformat(),
                  "consent": {**row["consent"], "ml_predictions": False},
                  "consent_updated_at": f"{LAST.isoformat()}T12:00:00.000Z"}
    _write(scored["landing"] / "users" / f"dt={LAST.isoformat()}" / "users-late.ndjson.gz",
           [json.dumps(withdrawal).encode()])
    _build(env)
    pulse_cli("privacy", "apply", env=env)

    assert query("select consent_ml_predictions, valid_from, chosen_by"
                 " from marts.ml_user_consent_periods where user_id = %s and valid_to is null",
                 (user,)) == [(False, LAST, "users_export")]
    assert scalar("select count(*) from ml.ml_features where user_id = %s", (user,)) == 0
    assert scalar("select count(*) from ml.ml_features where user_id <> %s", (user,)) == others
    after = train(ranges=RANGES, params=PARAMS, register=False)
    assert trained_rows > 0
    assert after["metrics"]["training"]["rows"] == (
        before["metrics"]["training"]["rows"] - trained_rows)
    # and the next scoring leaves them out
    score_day(LAST)
    assert scalar("select count(*) from ml.ml_features where user_id = %s", (user,)) == 0
