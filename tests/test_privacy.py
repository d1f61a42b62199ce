"""Privacy (docs/privacy.md): PII never past raw in clear, erasure, retention, consent.

One warehouse is built from generated data as a night builds it (load, `dbt build`)
with the commands the nightly DAG's tasks call; the tests then run in file order
on it (the purge, which removes data, last). The erasure test runs the nightly DAG for
real (`airflow dags test`): the night is what applies a pending erasure.

Over 300 lines on purpose: the tests share that one built warehouse and run in file order
on it; split across files, each file would build (and a worker run) its own.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from generators import generate
from pulse.privacy import pii
from tests.conftest import (
    NO_TESTS,
    dbt_build,
    environment,
    marks,
    pulse_cli,
    query,
    reset_schemas,
    scalar,
)

START = date(2026, 1, 1)
DAYS = 8
LAST = START + timedelta(days=DAYS - 1)
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"


def test_the_contract_marks_personal_fields_and_the_macro_follows_it():
    rules = pii.rules()
    assert rules["context.ip_address"] == "drop"
    assert rules["context.user_agent"] == "drop"
    assert rules["properties"]["invitee_email"] == "hash"
    assert rules["user_properties"]["name"] == "drop"
    # the dbt macro is generated from the contract, and is up to date
    assert pii.MACRO_PATH.read_text(encoding="utf-8") == pii.render_macro()


@pytest.fixture(scope="module")
@marks("dbt_build")
def built(warehouse_db, tmp_path_factory):
    base = tmp_path_factory.mktemp("privacy")
    landing = base / "landing"
    generate(landing, seed=23, tenants=3, users=90, days=DAYS, start=START, dirty=0.02)
    env = {"PULSE_LANDING_DIR": str(landing), "PULSE_DATA_DIR": str(base / "data")}
    with environment(env):
        reset_schemas()
        # what the night's load_landing and dbt tasks run (no model is trained here, so
        # a night would score nobody)
        pulse_cli("load", "--through", LAST.isoformat(), env=env)
        dbt_build(env=env)
        yield {"landing": landing, "env": env}


def _relations(schemas: tuple[str, ...] | None = None) -> dict[tuple[str, str], list[str]]:
    """Every table and view (of `schemas`, or of every non-system schema) with its columns,
    read from information_schema here rather than through pulse.privacy."""
    rows = query(
        "select c.table_schema, c.table_name, c.column_name, c.data_type"
        " from information_schema.columns c"
        " where c.table_schema not in ('pg_catalog', 'information_schema')"
        " and c.table_schema not like 'pg\\_%%' order by 1, 2, c.ordinal_position")
    out: dict[tuple[str, str], list[str]] = {}
    for schema, table, column, _ in rows:
        if schemas is None or schema in schemas:
            out.setdefault((schema, table), []).append(column)
    return out


def _scan(needle: str) -> dict[str, int]:
    """Rows of any relation, privacy's included, where any column (as text) holds `needle`."""
    found = {}
    for (schema, table), columns in _relations().items():
        where = " or ".join(f'strpos("{c}"::text, %s) > 0' for c in columns)
        n = scalar(f'select count(*) from "{schema}"."{table}" where {where}',
                   tuple([needle] * len(columns)))
        if n:
            found[f"{schema}.{table}"] = n
    return found


def test_no_column_of_staging_or_marts_holds_an_email_address(built):
    # the data does carry emails (invitations), in raw only
    assert scalar("select count(*) from raw.events where payload::text ~ %s", (EMAIL,)) > 0
    found = {}
    for (schema, table), columns in _relations(("staging", "intermediate", "marts")).items():
        where = " or ".join(f'"{c}"::text ~ %s' for c in columns)
        n = scalar(f'select count(*) from "{schema}"."{table}" where {where}',
                   tuple([EMAIL] * len(columns)))
        if n:
            found[f"{schema}.{table}"] = n
    assert found == {}
    # the emails are there as keyed hashes (a join on them still works) ...
    hashed = scalar("select properties ->> 'invitee_email' from staging.stg_pulse__events"
                    " where properties ? 'invitee_email' limit 1")
    assert re.fullmatch(r"[0-9a-f]{64}", hashed)
    # ... and the IP address and user agent stop at raw
    staged_columns = {c for (s, _), cols in _relations(("staging", "marts")).items()
                      for c in cols}
    assert not staged_columns & {"ip_address", "user_agent"}
    assert scalar("select count(*) from staging.stg_pulse__events"
                  " where properties::text ~ '\\d+\\.\\d+\\.\\d+\\.\\d+'") == 0


def _user_with_references() -> tuple[str, str]:
    """A user someone else's events name (they invited a colleague), not the last tenant."""
    return query(
        "select u.tenant_id, u.user_id from marts.dim_users u"
        " where exists (select 1 from staging.stg_pulse__events e"
        "  where e.properties ->> 'invited_by' = u.user_id)"
        " and u.tenant_id <> (select max(tenant_id) from marts.dim_tenants)"
        " order by u.user_id limit 1")[0]


@pytest.mark.airflow
def test_erasure_leaves_no_trace_after_the_nightly_run_and_a_full_refresh(built, airflow_db):
    env = built["env"]
    tenant, user = _user_with_references()
    gone_tenant = scalar("select max(tenant_id) from marts.dim_tenants")
    assert _scan(user) and _scan(gone_tenant)
    assert pulse_cli("privacy", "verify", "--tenant", tenant, "--user", user,
                     check=False).returncode == 1
    # the tenant has a webhook endpoint (and its secret) to erase too
    hook_env = {**env, "PULSE_WEBHOOK_ALLOW_HTTP": "1",
                "PULSE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}
    pulse_cli("webhooks", "endpoints", "add", gone_tenant, "http://127.0.0.1:9999/hook",
              env=hook_env)
    assert scalar("select count(*) from delivery.endpoint_secrets") == 1

    # one user now; the tenant is recorded for the next nightly run to apply
    out = pulse_cli("privacy", "erase", "--tenant", tenant, "--user", user, env=env).stdout
    assert "raw.events" in out and "staging.stg_pulse__events" in out
    pulse_cli("privacy", "erase", "--tenant", gone_tenant, "--at-next-run", env=env)
    assert scalar("select count(*) from privacy.erasure_requests where applied_at is null") == 1

    # the nightly run applies the pending request; aggregates stop counting the user
    pulse_cli("airflow", "dags", "test", "pulse_nightly", LAST.isoformat(), env=env)
    assert scalar("select count(*) from privacy.erasure_requests where applied_at is null") == 0
    _assert_tenant_activity_counts_the_users_left(tenant)
    users_left = _events_per_tenant()

    # a reload from the immutable landing files: the loader leaves them out (the loader
    # the nightly run's load_landing task calls; the run above already applied the
    # requests, so a second nightly run would add only time)
    for table in ("raw.load_ledger", "raw.events", "raw.accounts", "raw.rejected_events"):
        query(f"delete from {table} returning 1")
    pulse_cli("load", "--through", LAST.isoformat(), env=env)
    assert scalar("select sum(rows_suppressed) from raw.load_ledger") > 0
    pulse_cli("dbt", "build", "--full-refresh", "--quiet", *NO_TESTS, env=env)
    assert _events_per_tenant() == users_left

    assert _scan(user) == {}
    assert _scan(gone_tenant) == {}
    assert pulse_cli("privacy", "verify", "--tenant", tenant, "--user", user).returncode == 0
    assert pulse_cli("privacy", "verify", "--tenant", gone_tenant).returncode == 0
    # the requests keep hashes (the scans above include them), with per-table counts
    counts = dict(query("select scope, row_counts from privacy.erasure_requests"))
    assert counts["user"]["raw.events"] > 0 and counts["tenant"]["raw.accounts"] > 0
    assert counts["tenant"]["delivery.endpoint_secrets"] == 1
    _assert_tenant_activity_counts_the_users_left(tenant)


def _events_per_tenant() -> list[tuple]:
    return query("select tenant_id, count(*), count(distinct user_id) from marts.fct_events"
                 " group by 1 order by 1")


def _assert_tenant_activity_counts_the_users_left(tenant: str) -> None:
    assert query(
        "select activity_date, dau from marts.fct_daily_tenant_activity"
        " where tenant_id = %s order by 1", (tenant,)) == query(
        "select d.activity_date, count(a.user_id) filter (where a.is_active)"
        " from marts.fct_daily_tenant_activity d left join marts.fct_daily_user_activity a"
        " on a.tenant_id = d.tenant_id and a.activity_date = d.activity_date"
        " where d.tenant_id = %s group by 1 order by 1", (tenant,))


def _line(event_id: str, tenant: str, user: str, at: datetime, received: datetime,
          consent: dict[str, bool]) -> bytes:
    return json.dumps({
        "event_id": event_id, "tenant_id": tenant, "user_id": user,
        "event_name": "user.consent_updated", "event_version": "1.0",
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "received_at": received.isoformat().replace("+00:00", "Z"),
        "properties": {"consent": consent},
    }).encode()


def test_consent_withdrawals_apply_even_after_the_lookback(built):
    env = built["env"]
    withdrawn_at = datetime.combine(START + timedelta(days=2), datetime.min.time(),
                                    tzinfo=UTC) + timedelta(hours=12)
    # two active users of one tenant who signed up before then, allow ML predictions and
    # make no other consent choice later
    (tenant, user), (_, other) = query(
        "select e.tenant_id, e.user_id from marts.fct_events e"
        " join marts.ml_user_consent_periods c on c.tenant_id = e.tenant_id"
        "  and c.user_id = e.user_id and c.valid_to is null and c.consent_ml_predictions"
        " join intermediate.int_user_signups s on s.tenant_id = e.tenant_id"
        "  and s.user_id = e.user_id and s.signed_up_at < %s"
        " where e.event_date > %s and e.tenant_id = (select min(tenant_id) from marts.fct_events)"
        " and not exists (select 1 from intermediate.int_user_consent_changes later"
        "  where later.user_id = e.user_id and later.chosen_at >= %s)"
        " group by 1, 2 order by count(*) desc, 2 limit 2",
        (withdrawn_at, START + timedelta(days=3), withdrawn_at))
    assert scalar("select count(*) from marts.fct_events where user_id = %s and event_at >= %s",
                  (user, withdrawn_at)) > 0

    # existing ML scores of both users (as a nightly scoring run leaves them)
    query("insert into ml.model_registry (model_version, data_through, train_start, train_end,"
          " validation_start, validation_end, params, features, metrics, artifact_path,"
          " artifact_sha256) values ('t', %s, %s, %s, %s, %s, '{}', '[]', '{}', 'x', 'x')"
          " returning 1", (LAST, START, START, LAST, LAST))
    for who in (user, other):
        query("insert into ml.ml_features (tenant_id, user_id, scored_at, model_version,"
              " churn_probability, ltv_prediction, propensity_scores, risk_band, top_factors)"
              " values (%s, %s, %s, 't', 0.5, 1, '{}', 'medium', '[]') returning 1",
              (tenant, who, START + timedelta(days=1)))

    # the withdrawal arrives 12 days later: beyond the 7-day lookback
    received = withdrawn_at + timedelta(days=12)
    folder = built["landing"] / "events" / f"dt={LAST.isoformat()}"
    with gzip.open(folder / "late-consent.ndjson.gz", "wb") as fh:
        fh.write(_line("evt_consent_late", tenant, user, withdrawn_at, received,
                       {"analytics_tracking": False, "ml_predictions": False}) + b"\n")
    pulse_cli("load", env=env)
    # the models the withdrawal reaches that are read below (and by `privacy apply`)
    pulse_cli("dbt", "build", "--quiet", "--select", "+fct_daily_user_activity",
              "+ml_user_consent_periods", "+int_events_beyond_lookback",
              *NO_TESTS, env=env)
    pulse_cli("privacy", "apply", env=env)

    assert scalar("select count(*) from intermediate.int_events_beyond_lookback"
                  " where event_id = 'evt_consent_late'") == 1
    # analytics_tracking: their later events leave the user-level marts
    assert scalar("select count(*) from marts.fct_events where user_id = %s and event_at >= %s",
                  (user, withdrawn_at)) == 0
    assert scalar("select count(*) from marts.fct_events where user_id = %s and event_at < %s",
                  (user, withdrawn_at)) > 0
    assert scalar("select count(*) from marts.fct_daily_user_activity where user_id = %s"
                  " and activity_date > %s", (user, withdrawn_at.date())) == 0
    assert scalar("select count(*) from marts.fct_events where user_id = %s and event_at >= %s",
                  (other, withdrawn_at)) > 0
    # ml_predictions: not scored from that day, and existing scores deleted
    assert query("select consent_ml_predictions, valid_from from marts.ml_user_consent_periods"
                 " where user_id = %s and valid_to is null", (user,)) == [
        (False, withdrawn_at.date())]
    assert scalar("select count(*) from ml.ml_features where user_id = %s", (user,)) == 0
    assert scalar("select count(*) from ml.ml_features where user_id = %s", (other,)) == 1

    # a full refresh agrees with the incremental build
    incremental = query("select event_id from marts.fct_events where user_id = %s order by 1",
                        (user,))
    pulse_cli("dbt", "build", "--full-refresh", "--quiet", "--select", "+fct_events",
              *NO_TESTS, env=env)
    assert query("select event_id from marts.fct_events where user_id = %s order by 1",
                 (user,)) == incremental


def test_retention_purge_removes_and_logs_old_rows(built):
    env = built["env"]
    cutoff = datetime.combine(LAST - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    old_raw = scalar("select count(*) from raw.events where event_ts < %s", (cutoff,))
    old_staged = scalar("select count(*) from staging.stg_pulse__events where event_at < %s",
                        (cutoff,))
    assert old_raw > 0 and old_staged > 0
    short = {**env, "PULSE_RETENTION_USER_EVENTS_DAYS": "3"}
    pulse_cli("privacy", "purge", "--as-of", LAST.isoformat(), env=short)
    assert scalar("select count(*) from raw.events where event_ts < %s", (cutoff,)) == 0
    assert scalar("select count(*) from raw.events where event_ts >= %s", (cutoff,)) > 0
    logged = dict(query("select table_name, rows_removed from privacy.purge_log"
                        " where retention_class = 'user_events' order by purged_at"))
    assert logged["raw.events"] == old_raw
    assert logged["staging.stg_pulse__events"] == old_staged

    # quarantined lines: kept 30 days after they were quarantined, then purged
    total = scalar("select count(*) from raw.rejected_events")
    assert total > 1
    query("update raw.rejected_events set rejected_at = now() - interval '31 days'"
          " where line_number in (select min(line_number) from raw.rejected_events)"
          " returning 1")
    aged = scalar("select count(*) from raw.rejected_events"
                  " where rejected_at < now() - interval '30 days'")
    pulse_cli("privacy", "purge", env=env)
    assert scalar("select count(*) from raw.rejected_events") == total - aged
    assert scalar("select rows_removed from privacy.purge_log where table_name ="
                  " 'raw.rejected_events' order by purged_at desc limit 1") == aged
    # a second purge finds nothing more
    pulse_cli("privacy", "purge", env=env)
    assert scalar("select rows_removed from privacy.purge_log where table_name ="
                  " 'raw.rejected_events' order by purged_at desc limit 1") == 0


def test_bad_arguments_say_what_to_do(built):
    proc = pulse_cli("privacy", "erase", "--tenant", " ", check=False)
    assert proc.returncode == 2 and "must not be empty" in proc.stderr
    proc = pulse_cli("privacy", "purge", "--as-of", "yesterday", check=False)
    assert proc.returncode == 2
    proc = pulse_cli("privacy", "purge", env={"PULSE_RETENTION_QUARANTINE_DAYS": "soon"},
                     check=False)
    assert proc.returncode == 2 and "PULSE_RETENTION_QUARANTINE_DAYS" in proc.stderr
    assert "Traceback" not in proc.stderr
