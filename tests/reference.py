"""An independent, plain-Python reading of the landing files, for tests to compare the
warehouse against. Deliberately written from the definitions, not from Pulse's code."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
REQUIRED = ("event_id", "tenant_id", "user_id", "event_name", "event_version", "timestamp")


def _files(landing: Path, kind: str, through: date | None):
    for path in sorted((landing / kind).glob("dt=*/*.ndjson.gz")):
        day = date.fromisoformat(path.parent.name[3:])
        if through is None or day <= through:
            yield path


def users_exports(landing: Path, through: date | None = None) -> list[dict]:
    """Every line of the users exports (the application's user settings) up to `through`."""
    rows = []
    for path in _files(landing, "users", through):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh)
    return rows


def known_tenants(landing: Path, through: date | None = None) -> set[str]:
    tenants = set()
    for path in _files(landing, "accounts", through):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            tenants.update(json.loads(line)["tenant_id"] for line in fh)
    return tenants


def _valid(obj, tenants: set[str]) -> bool:
    if not isinstance(obj, dict):
        return False
    if any(not isinstance(obj.get(k), str) for k in REQUIRED):
        return False
    if obj["event_version"].split(".")[0] not in ("1", "2"):
        return False
    for key in ("properties", "context", "user_properties", "attribution"):
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            return False
    try:
        ts = datetime.fromisoformat(obj["timestamp"])
    except ValueError:
        return False
    return ts.tzinfo is not None and obj["tenant_id"] in tenants


def events(landing: Path, through: date | None = None) -> dict[str, dict]:
    """event_id -> the earliest received valid copy, over files up to `through`."""
    tenants = known_tenants(landing, through)
    best: dict[str, dict] = {}
    for path in _files(landing, "events", through):
        with gzip.open(path, "rb") as fh:
            for raw in fh:
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                if not _valid(obj, tenants):
                    continue
                seen = best.get(obj["event_id"])
                if seen is None or obj["received_at"] < seen["received_at"]:
                    best[obj["event_id"]] = obj
    return best


def lookback_days() -> int:
    with open(REPO / "dbt_project/dbt_project.yml") as fh:
        return int(yaml.safe_load(fh)["vars"]["late_event_lookback_days"])


def counted(evts: dict[str, dict]) -> dict[str, dict]:
    """The events that count: received no later than `late_event_lookback_days` days
    after the end of their event day."""
    horizon = timedelta(days=1 + lookback_days())
    out = {}
    for event_id, obj in evts.items():
        day_start = datetime.combine(event_day(obj), datetime.min.time(), tzinfo=UTC)
        if datetime.fromisoformat(obj["received_at"]) <= day_start + horizon:
            out[event_id] = obj
    return out


def active_event_names() -> set[str]:
    with open(REPO / "dbt_project/seeds/event_catalog.csv", newline="") as fh:
        return {r["event_name"] for r in csv.DictReader(fh) if r["counts_as_active"] == "true"}


def event_day(obj: dict) -> date:
    """The UTC date of the event's own timestamp."""
    return datetime.fromisoformat(obj["timestamp"]).astimezone(UTC).date()


def daily_active_users(evts: dict[str, dict]) -> dict[tuple[str, date], int]:
    active = active_event_names()
    users: dict[tuple[str, date], set[str]] = defaultdict(set)
    for obj in evts.values():
        if obj["event_name"] in active:
            users[(obj["tenant_id"], event_day(obj))].add(obj["user_id"])
    return {key: len(v) for key, v in users.items()}


# --- rolling activity and monthly retention ------------------------------------------------
#
# Definitions, written from the spec rather than from the SQL:
# - a user is identified by (tenant_id, user_id);
# - active on a day = at least one event that day whose name counts_as_active;
# - DAU / WAU / MAU of a tenant on day D = distinct users active on D / in the 7 / in the
#   30 days ending on D (inclusive);
# - signup day = UTC date of the user's first user.signed_up event; a user without one is
#   dated by their first active day (a user with neither is in no cohort);
# - monthly retention: cohort = calendar month of signup, period k = k-th calendar month
#   after it, retained in k = active at least once in that month, rate = retained / cohort
#   size; a period is in progress when its last day is after the last loaded day.

SIGNUP_EVENT = "user.signed_up"


def active_days(evts: dict[str, dict]) -> dict[tuple[str, str], set[date]]:
    """(tenant, user) -> the days the user was active."""
    active = active_event_names()
    out: dict[tuple[str, str], set[date]] = defaultdict(set)
    for obj in evts.values():
        if obj["event_name"] in active:
            out[(obj["tenant_id"], obj["user_id"])].add(event_day(obj))
    return dict(out)


def first_event_day(evts: dict[str, dict]) -> dict[str, date]:
    """tenant -> the day of its first event of any kind."""
    out: dict[str, date] = {}
    for obj in evts.values():
        day = event_day(obj)
        if obj["tenant_id"] not in out or day < out[obj["tenant_id"]]:
            out[obj["tenant_id"]] = day
    return out


def daily_tenant_activity(
    evts: dict[str, dict], last_day: date
) -> dict[tuple[str, date], tuple[int, int, int]]:
    """(tenant, day) -> (dau, wau, mau), for every day from the tenant's first event day
    through `last_day`, zeros included."""
    users_on: dict[tuple[str, date], set[str]] = defaultdict(set)
    for (tenant, user), days in active_days(evts).items():
        for day in days:
            users_on[(tenant, day)].add(user)
    out: dict[tuple[str, date], tuple[int, int, int]] = {}
    for tenant, first in first_event_day(evts).items():
        day = first
        while day <= last_day:
            def window(n: int, tenant: str = tenant, day: date = day) -> int:
                seen: set[str] = set()
                for k in range(n):
                    seen |= users_on.get((tenant, day - timedelta(days=k)), set())
                return len(seen)

            out[(tenant, day)] = (window(1), window(7), window(30))
            day += timedelta(days=1)
    return out


def signup_days(evts: dict[str, dict]) -> dict[tuple[str, str], date]:
    """(tenant, user) -> signup day: first user.signed_up, else first active day."""
    first_signup: dict[tuple[str, str], datetime] = {}
    for obj in evts.values():
        if obj["event_name"] == SIGNUP_EVENT:
            key = (obj["tenant_id"], obj["user_id"])
            ts = datetime.fromisoformat(obj["timestamp"]).astimezone(UTC)
            if key not in first_signup or ts < first_signup[key]:
                first_signup[key] = ts
    out = {key: ts.date() for key, ts in first_signup.items()}
    for key, days in active_days(evts).items():
        out.setdefault(key, min(days))
    return out


def month_start(day: date) -> date:
    return day.replace(day=1)


def months_between(a: date, b: date) -> int:
    """Calendar months from a's month to b's month."""
    return (b.year - a.year) * 12 + (b.month - a.month)


def add_months(month: date, k: int) -> date:
    n = month.year * 12 + month.month - 1 + k
    return date(n // 12, n % 12 + 1, 1)


@dataclass(frozen=True)
class RetentionRow:
    cohort_size: int
    retained_users: int
    retention_rate: float
    is_period_in_progress: bool


def monthly_retention(
    evts: dict[str, dict], last_day: date
) -> dict[tuple[str | None, date, int], RetentionRow]:
    """(tenant or None for all tenants, cohort month, period) -> RetentionRow, for every
    cohort with at least one user and every period from 0 to `last_day`'s month."""
    signups = signup_days(evts)
    activity = active_days(evts)
    # scope (a tenant, or None for all) -> cohort month -> users
    cohorts: dict[str | None, dict[date, set[tuple[str, str]]]] = defaultdict(
        lambda: defaultdict(set))
    for key, day in signups.items():
        if day > last_day:
            continue
        cohorts[key[0]][month_start(day)].add(key)
        cohorts[None][month_start(day)].add(key)
    active_months = {key: {month_start(d) for d in days if d <= last_day}
                     for key, days in activity.items()}
    out: dict[tuple[str | None, date, int], RetentionRow] = {}
    for scope, by_month in cohorts.items():
        for cohort, members in by_month.items():
            for k in range(months_between(cohort, last_day) + 1):
                month = add_months(cohort, k)
                retained = sum(1 for m in members if month in active_months.get(m, ()))
                period_end = add_months(month, 1) - timedelta(days=1)
                out[(scope, cohort, k)] = RetentionRow(
                    cohort_size=len(members),
                    retained_users=retained,
                    retention_rate=retained / len(members),
                    is_period_in_progress=period_end > last_day,
                )
    return out


def consenting_users(landing: Path, day: date) -> set[tuple[str, str]]:
    """From the landing files, independently of dbt: users seen in the events by `day`
    whose latest ML consent up to the end of `day` is yes. Choices come from the users
    export (authoritative: at the same instant it wins), the signup and consent updates."""
    latest: dict[tuple[str, str], tuple[datetime, int, bool]] = {}
    seen: set[tuple[str, str]] = set()

    def choose(key, at: str, rank: int, ml: bool) -> None:
        when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        if when.date() <= day and (key not in latest or (when, rank) > latest[key][:2]):
            latest[key] = (when, rank, ml)

    for ev in events(landing, through=day).values():
        key = (ev["tenant_id"], ev["user_id"])
        if event_day(ev) > day:
            continue
        seen.add(key)
        consent = (ev.get("properties") or {}).get("consent")
        rank = {"user.signed_up": 0, "user.consent_updated": 1}.get(ev["event_name"])
        if rank is not None and consent:
            choose(key, ev["timestamp"], rank, consent["ml_predictions"])
    for row in users_exports(landing, through=day):
        choose((row["tenant_id"], row["user_id"]), row["consent_updated_at"], 2,
               row["consent"]["ml_predictions"])
    return {k for k in seen if k in latest and latest[k][2]}


def assert_warehouse_matches(landing: Path, day: date) -> None:
    """After a night for `day`: the warehouse holds exactly the events of the landing
    files through `day` (each once, its earliest received copy) and their daily actives."""
    from tests.conftest import query, scalar

    expected = events(landing, through=day)
    assert scalar("select max(partition_date) from raw.load_ledger") == day
    assert scalar("select count(*) from staging.stg_pulse__events") == len(expected)
    assert scalar("select count(distinct event_id) from raw.events") == len(expected)
    # the winning copy is the earliest received one
    staged = dict(query("select event_id, received_at from staging.stg_pulse__events"))
    some = sorted(expected)[:: max(1, len(expected) // 200)]
    for event_id in some:
        received = datetime.fromisoformat(expected[event_id]["received_at"])
        assert staged[event_id] == received, event_id
    dau = {(t, d): n for t, d, n in
           query("select tenant_id, activity_date, active_users from marts.daily_active_users")}
    assert dau == daily_active_users(counted(expected))
