"""Incremental cases the day-by-day equality test (test_incremental_equality.py) does not
reach with its 12 days: nights past the ML snapshots' 30-day label horizon, with users
who went quiet, and earlier copies of stored events arriving on other days."""

from __future__ import annotations

from datetime import timedelta

import pytest

from generators import generate
from pulse import loader, migrate
from tests.conftest import NO_TESTS, pulse_cli, query, scalar
from tests.test_incremental_equality import START, differences, snapshot

LABEL_DAYS = 75  # past the 30-day label horizon, and long enough for users to go quiet


@pytest.mark.dbt_build
def test_snapshots_past_the_horizon_equal_a_full_refresh(clean_warehouse, tmp_path):
    """The ML snapshots on nights past the label horizon: labels completed night by night
    (the relabelled rows) and users with no event in the context days, whose rows are
    computed from the days written alone (docs/incremental.md, "Users with nothing to
    roll"), equal a full refresh of the model, row for row."""
    landing = tmp_path / "landing"
    generate(landing, seed=11, tenants=2, users=40, days=LABEL_DAYS, start=START, dirty=0.05)
    migrate.apply(log=lambda _m: None)
    model = ("--select", "+ml_user_feature_snapshots")
    first_night = LABEL_DAYS - 4
    for d in range(first_night, LABEL_DAYS):
        report = loader.load(landing, through=START + timedelta(days=d))
        assert not report.problems, report.summary()
        # the first night seeds too (the catalogs); then what the model reads, and it
        if d == first_night:
            pulse_cli("dbt", "build", "--quiet", *NO_TESTS, *model)
        else:
            pulse_cli("dbt", "run", "--quiet", *model)

    relation = "marts.ml_user_feature_snapshots"
    incremental = {k: v for k, v in snapshot().items() if k == relation}
    last = query("select max(snapshot_date) from marts.ml_user_feature_snapshots")[0][0]
    labelled = query("select count(*) from marts.ml_user_feature_snapshots"
                     " where churned_next_30d is not null and snapshot_date > %s",
                     (START + timedelta(days=first_night - 31),))[0][0]
    assert labelled > 0, "no label completed on the incremental nights"
    # users quiet on every incremental night: no event in its context days, which start at
    # most 30 + 7 days (the lookback) before it; the first of them is 2 days before `last`
    quiet = query(
        "select count(*) from marts.dim_users as u where not exists ("
        " select from marts.fct_daily_user_activity as a where a.tenant_id = u.tenant_id"
        " and a.user_id = u.user_id and a.activity_date > %s - 40)", (last,))[0][0]
    assert quiet > 0, "no user was quiet through the context days"

    pulse_cli("dbt", "run", "--full-refresh", "--quiet", "--select", "ml_user_feature_snapshots")
    full = {k: v for k, v in snapshot().items() if k == relation}
    problems = differences(incremental, full)
    assert not problems, "\n".join(problems)


@pytest.mark.dbt_build
def test_an_earlier_copy_on_another_day_leaves_one_row_of_its_event(clean_warehouse, tmp_path):
    """An earlier-received copy of a stored event, on another day, replaces it in staging
    and in fct_events, whose key leads with the day: the old row is deleted on the days
    staging had the id on (`_replaced_event_dates`), also when fct_events missed a night
    in which staging replaced the id (the days accumulate)."""
    landing = tmp_path / "landing"
    generate(landing, seed=5, tenants=2, users=20, days=6, start=START, dirty=0.0)
    migrate.apply(log=lambda _m: None)
    report = loader.load(landing, through=START + timedelta(days=5))
    assert not report.problems, report.summary()
    events = ("--select", "+fct_events")
    pulse_cli("dbt", "build", "--quiet", *NO_TESTS, *events)

    [(event_id, day)] = query("select event_id, event_date from marts.fct_events"
                              " where event_date = %s order by event_id limit 1",
                              (START + timedelta(days=5),))

    def earlier_copy(days_back: int) -> None:
        # a copy of the first one loaded, received `days_back` minutes before it (so earlier
        # than every copy so far), its event `days_back` days before it
        query("insert into raw.events (event_id, tenant_id, event_ts, received_at, batch_id,"
              " line_number, payload)"
              " select event_id, tenant_id, event_ts - %s * interval '1 day',"
              "        received_at - %s * interval '1 minute',"
              "        (select max(batch_id) + 1 from raw.events), 1, payload"
              " from raw.events where event_id = %s order by batch_id limit 1"
              " returning event_id", (days_back, days_back, event_id))

    earlier_copy(1)
    pulse_cli("dbt", "run", "--quiet", *events)
    assert query("select event_date from marts.fct_events where event_id = %s",
                 (event_id,)) == [(day - timedelta(days=1),)]
    # staging alone (a night whose fct_events did not run), then both
    earlier_copy(2)
    pulse_cli("dbt", "run", "--quiet", "--select", "stg_pulse__events")
    earlier_copy(3)
    pulse_cli("dbt", "run", "--quiet", *events)
    assert query("select event_date, _replaced_event_dates from staging.stg_pulse__events"
                 " where event_id = %s", (event_id,)) == [
        (day - timedelta(days=3), [str(day - timedelta(days=d)) for d in (2, 1, 0)])]
    assert query("select event_date from marts.fct_events where event_id = %s",
                 (event_id,)) == [(day - timedelta(days=3),)]

    # staging built whole alone cannot tell what it replaced: the next fct_events run
    # takes every staged row again and finds their stored rows by event_id alone
    before = query("select event_date, event_id from marts.fct_events order by 1, 2")
    pulse_cli("dbt", "run", "--quiet", "--full-refresh", "--select", "stg_pulse__events")
    assert scalar("select count(*) from staging.stg_pulse__events where not"
                  " (_may_replace and _replaced_event_dates is null)") == 0
    pulse_cli("dbt", "run", "--quiet", "--select", "fct_events")
    assert query("select event_date, event_id from marts.fct_events order by 1, 2") == before


@pytest.mark.dbt_build
def test_a_build_analyzes_what_has_no_statistics_and_only_that(clean_warehouse, tmp_path):
    """The analyze post-hook (macros/analyze.sql) reads "never analyzed" from the
    statistics the planner uses, which a database copy or a crash keeps: with the activity
    counters reset, an analyzed table is not analyzed again; without statistics, it is."""
    landing = tmp_path / "landing"
    generate(landing, seed=3, tenants=1, users=10, days=2, start=START, dirty=0.0)
    migrate.apply(log=lambda _m: None)
    report = loader.load(landing)
    assert not report.problems, report.summary()
    staging = ("--select", "stg_pulse__events")

    def analyzed() -> tuple[bool, bool]:
        # (statistics exist, analyzed by a command since the counters were last reset)
        return query(
            "select exists (select from pg_stats where schemaname = 'staging'"
            "  and tablename = 'stg_pulse__events'),"
            " (select last_analyze is not null from pg_stat_user_tables"
            "  where relid = 'staging.stg_pulse__events'::regclass)")[0]

    pulse_cli("dbt", "run", "--quiet", *staging)
    assert analyzed() == (True, True)  # a new table: analyzed as it was built
    if not scalar("select rolsuper from pg_roles where rolname = current_user"):
        pytest.skip("resetting the activity counters and deleting statistics needs a superuser")
    query("select pg_stat_reset()")  # as a database copy or a crash leaves them
    pulse_cli("dbt", "run", "--quiet", *staging)
    assert analyzed() == (True, False)  # left to autovacuum
    query("delete from pg_statistic where starelid = 'staging.stg_pulse__events'::regclass"
          " returning starelid")
    pulse_cli("dbt", "run", "--quiet", *staging)
    assert analyzed() == (True, True)
