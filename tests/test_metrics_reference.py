"""The activity and retention marts agree, row by row, with a plain-Python reading of the
landing files (tests/reference.py: dedup, the event catalog and the metric definitions,
written from the spec and not from the SQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests import reference
from tests.conftest import query, scalar
from tests.shared import LAST_DAY

SHOW = 10  # differing rows shown on failure


@pytest.fixture(scope="module")
def counted_events(shared_build):
    """The events that count, read from the shared warehouse's landing files."""
    evts = reference.counted(reference.events(shared_build.landing))
    assert max(reference.event_day(e) for e in evts.values()) == LAST_DAY
    return evts


@pytest.fixture
def built(built_warehouse, counted_events):
    """The session's built warehouse (tests/shared.py: the demo-like data set, smaller)."""
    return counted_events


def _require(relation: str) -> None:
    schema, name = relation.split(".")
    exists = scalar(
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relname = %s", (schema, name))
    assert exists, f"{relation} was not built by `dbt build`"


def _assert_same(what: str, actual: dict, expected: dict, equal=None) -> None:
    equal = equal or (lambda a, e: a == e)
    missing = sorted(expected.keys() - actual.keys(), key=str)
    extra = sorted(actual.keys() - expected.keys(), key=str)
    different = sorted((k for k in expected.keys() & actual.keys()
                        if not equal(actual[k], expected[k])), key=str)
    if not (missing or extra or different):
        return
    lines = [f"{what}: {len(actual)} rows in the mart, {len(expected)} in the reference; "
             f"{len(missing)} missing, {len(extra)} extra, {len(different)} different"]
    lines += [f"  missing {k}: expected {expected[k]}" for k in missing[:SHOW]]
    lines += [f"  extra   {k}: mart has {actual[k]}" for k in extra[:SHOW]]
    lines += [f"  differs {k}: mart {actual[k]} != reference {expected[k]}"
              for k in different[:SHOW]]
    raise AssertionError("\n".join(lines))


def _as_date(value, column: str) -> date:
    assert type(value) is date, f"{column} should be a date, got {type(value).__name__} {value!r}"
    return value


def test_daily_active_users_match_the_reference(built):
    mart = {(t, _as_date(d, "activity_date")): n for t, d, n in query(
        "select tenant_id, activity_date, active_users from marts.daily_active_users")}
    _assert_same("marts.daily_active_users (active_users)", mart,
                 reference.daily_active_users(built))


def test_daily_tenant_activity_matches_the_reference(built):
    _require("marts.fct_daily_tenant_activity")
    mart = {(t, _as_date(d, "activity_date")): (dau, wau, mau) for t, d, dau, wau, mau in query(
        "select tenant_id, activity_date, dau, wau, mau from marts.fct_daily_tenant_activity")}
    expected = reference.daily_tenant_activity(built, LAST_DAY)
    _assert_same("marts.fct_daily_tenant_activity (dau, wau, mau)", mart, expected)
    # the rolling windows are really rolling: some day has wau > dau and mau > wau
    assert any(w > d for d, w, _ in expected.values())
    assert any(m > w for _, w, m in expected.values())


def _rate_equal(actual: tuple, expected: tuple) -> bool:
    """Rates are compared up to the mart's own rounding (a numeric with a scale)."""
    size, retained, rate, in_progress = actual
    e_size, e_retained, e_rate, e_in_progress = expected
    if (size, retained, in_progress) != (e_size, e_retained, e_in_progress) or rate is None:
        return False
    if isinstance(rate, Decimal):
        exponent = rate.as_tuple().exponent
        tolerance = Decimal(5).scaleb(exponent - 1) if isinstance(exponent, int) else 0
        return abs(rate - Decimal(repr(e_rate))) <= max(tolerance, Decimal("1e-12"))
    return abs(float(rate) - e_rate) <= 1e-9


def test_monthly_retention_matches_the_reference(built):
    _require("marts.retention_monthly_cohorts")
    mart = {}
    for row in query(
        "select tenant_id, cohort_month, period_number, cohort_size, retained_users,"
        " retention_rate, is_period_in_progress from marts.retention_monthly_cohorts"
    ):
        tenant, cohort, period, size, retained, rate, in_progress = row
        key = (tenant, _as_date(cohort, "cohort_month"), period)
        assert key not in mart, f"two rows for {key}"
        mart[key] = (size, retained, rate, in_progress)
    expected = {key: (r.cohort_size, r.retained_users, r.retention_rate,
                      r.is_period_in_progress)
                for key, r in reference.monthly_retention(built, LAST_DAY).items()}
    # the data set is meant to exercise several cohorts, per tenant and across tenants
    months = {cohort for tenant, cohort, _ in expected if tenant is None}
    assert len(months) >= 3, months
    assert any(tenant is None for tenant, _, _ in expected)
    _assert_same("marts.retention_monthly_cohorts (cohort_size, retained_users, "
                 "retention_rate, is_period_in_progress)", mart, expected, _rate_equal)


def test_reference_definitions_on_a_hand_made_example():
    """The reference itself, on events small enough to check by hand."""
    def ev(i, user, name, ts, tenant="t1"):
        return {"event_id": f"e{i}", "tenant_id": tenant, "user_id": user, "event_name": name,
                "timestamp": ts, "received_at": ts}

    evts = {e["event_id"]: e for e in [
        ev(1, "a", "user.signed_up", "2026-01-30T23:59:00+00:00"),
        ev(2, "a", "feature.used", "2026-03-02T10:00:00Z"),
        ev(3, "b", "session.started", "2026-01-31T23:30:00-02:00"),  # Feb 1 in UTC
        ev(4, "b", "notification.email_opened", "2026-02-10T10:00:00Z"),  # not active
        ev(5, "c", "api.request_completed", "2026-01-05T10:00:00Z"),  # never active
        ev(6, "a", "user.logged_in", "2026-02-03T10:00:00Z", tenant="t2"),
    ]}
    last = date(2026, 3, 2)
    assert reference.signup_days(evts) == {
        ("t1", "a"): date(2026, 1, 30), ("t1", "b"): date(2026, 2, 1),
        ("t2", "a"): date(2026, 2, 3)}
    activity = reference.daily_tenant_activity(evts, last)
    assert min(d for t, d in activity if t == "t1") == date(2026, 1, 5)
    assert activity[("t1", date(2026, 1, 30))] == (1, 1, 1)
    assert activity[("t1", date(2026, 2, 1))] == (1, 2, 2)
    assert activity[("t1", date(2026, 2, 6))] == (0, 1, 2)
    assert activity[("t1", date(2026, 2, 8))] == (0, 0, 2)
    assert activity[("t1", date(2026, 3, 2))] == (1, 1, 2)
    retention = reference.monthly_retention(evts, last)
    jan, feb = date(2026, 1, 1), date(2026, 2, 1)
    assert retention[("t1", jan, 0)] == reference.RetentionRow(1, 1, 1.0, False)
    assert retention[("t1", jan, 1)] == reference.RetentionRow(1, 0, 0.0, False)
    assert retention[("t1", jan, 2)] == reference.RetentionRow(1, 1, 1.0, True)
    assert retention[(None, feb, 0)] == reference.RetentionRow(2, 2, 1.0, False)
    assert retention[(None, feb, 1)] == reference.RetentionRow(2, 0, 0.0, True)
    assert (None, jan, 3) not in retention and ("t2", jan, 0) not in retention
