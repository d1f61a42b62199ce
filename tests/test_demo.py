"""`make demo`'s own command, run twice: quiet, scores users, delivers verified webhooks,
and leaves the same warehouse.

Its runs of pulse_train, pulse_nightly and pulse_delivery are the suite's Airflow runs of
the whole night with a model: what they scored and sent is checked here against the
landing files, and tests/test_ml_scoring.py tests the same code in-process."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import textwrap
from pathlib import Path

import pytest

from pulse.dagtest import run_dag_test
from pulse.demo import DEMO_RECEIVER_PORT
from pulse.ml import registry
from pulse.webhooks.demo_receiver import DEMO_ENDPOINT_ID
from tests import reference
from tests.conftest import pulse_cli, query

FINGERPRINT = """
select 'raw', count(*), coalesce(sum(hashtext(event_id || batch_id || line_number)), 0)
  from raw.events
union all
select 'rejected', count(*), coalesce(sum(hashtext(line)), 0) from raw.rejected_events
union all
select 'ledger', count(*),
       coalesce(sum(hashtext(concat_ws('|', file_path, status, rows_loaded, rows_rejected))), 0)
  from raw.load_ledger
union all
select 'staging', count(*), coalesce(sum(hashtext(event_id || _batch_id)), 0)
  from staging.stg_pulse__events
union all
select 'dau', count(*),
       coalesce(sum(hashtext(tenant_id || activity_date || active_users
                             || monthly_active_users)), 0)
  from marts.daily_active_users
union all
select 'scores', count(*),
       coalesce(sum(hashtext(user_id || scored_at || model_version || churn_probability)), 0)
  from ml.ml_features
union all
select 'models', count(*), coalesce(sum(hashtext(model_version || data_through)), 0)
  from ml.model_registry
union all
select 'ltv', count(*), coalesce(sum(hashtext(tenant_id || scored_at || scored_users)), 0)
  from marts.ml_tenant_ltv
union all
select 'endpoints', count(*), coalesce(sum(hashtext(endpoint_id || tenant_id || url)), 0)
  from delivery.endpoints
union all
select 'secrets', count(*), coalesce(sum(hashtext(secret_encrypted)), 0)
  from delivery.endpoint_secrets
union all
select 'messages', count(*), coalesce(sum(hashtext(message_id)), 0) from delivery.messages
union all
select 'outbox', count(*), coalesce(sum(hashtext(message_id || endpoint_id || status)), 0)
  from delivery.outbox
union all
select 'attempts', count(*), coalesce(sum(hashtext(message_id || status)), 0)
  from delivery.attempts
order by 1
"""

ANSI = re.compile(r"\x1b\[")
AT_RISK = 0.3


def _check_quiet(out: str) -> Path:
    lines = out.splitlines()
    assert len(lines) <= 150, f"{len(lines)} lines:\n{out}"
    assert not ANSI.search(out), "colour codes on the console"
    # nothing of cosmos' `dbt ls` JSON, dbt's log lines or GX's registrations
    assert '"unique_id"' not in out and '"resource_type"' not in out
    assert not [line for line in lines if line.lstrip().startswith(("{", "[{"))]
    assert "Skipping registering" not in out and "[DAG TEST]" not in out
    log = Path(re.search(r"full log \(Airflow, dbt, Great Expectations\) in (\S+)",
                         out).group(1))
    text = log.read_text()
    # ... which went to the log instead
    assert "[DAG TEST] end task task_id=publish_marts" in text
    assert not ANSI.search(text)
    return log


@pytest.mark.airflow
@pytest.mark.timeout(3600)  # two demos: four DAG runs and two dbt builds each
def test_demo_twice_scores_delivers_and_leaves_the_same_warehouse(clean_warehouse, airflow_db,
                                                                  tmp_path):
    # Announce from 0.3 on (production: 0.7): on this small data set few users reach 0.7.
    env = {"PULSE_DATA_DIR": str(tmp_path / "data"),
           "PULSE_WEBHOOK_AT_RISK_THRESHOLD": str(AT_RISK)}
    # Small, but with the days training needs before the last day and enough users for
    # its training and validation ranges to hold churned and retained ones.
    args = ("demo", "--size", "tiny", "--tenants", "4", "--users", "240", "--days", "120")
    # The first demo finds its usual receiver port taken (as when another checkout's demo
    # runs): it listens on another, and the second demo must listen there again, or its
    # endpoint's URL, and so the warehouse, would change.
    try:
        held = socket.create_server(("127.0.0.1", DEMO_RECEIVER_PORT))
    except OSError:
        held = None  # taken already: the same case
    with held or contextlib.nullcontext():
        first = pulse_cli(*args, env=env, timeout=1800)
    out = first.stdout
    log = _check_quiet(out)
    assert first.stderr == ""
    # one line per task of the nightly run, with a counter: [n/total]
    totals = {int(t) for t in re.findall(r"\[\s*\d+/(\d+)\] \S", out)}
    assert totals, out
    for task in ("apply_raw_ddl", "load_landing", "gate_raw", "gate_models", "score_users",
                 "build_score_marts", "fill_outbox", "publish_marts", "train_model", "deliver_due"):
        assert re.search(rf"\] {task} +success", out), (task, out)
    assert re.search(r"History through \S+ \(\d+ days\).*: [\d,]+ events; \d+ models built",
                     out), out
    # the gate's verdict on the model just trained, in words
    assert re.search(r"churn-\S+ (promoted: it scores tonight|rejected: .*serves until)", out)
    assert "Quarantined lines by reason" in out
    assert "Where to look next" in out and "pulse summary" in out and "Metabase" in out
    assert "Quality gate (Great Expectations)" in out
    assert query("select count(*) > 0, bool_and(success) from quality.gate_runs") == [
        (True, True)]

    # the nightly run for the last day scored every consenting user with the trained model
    last_day = query("select max(partition_date) from raw.load_ledger")[0][0]
    # the scorer current that night: the model if it passed the gate, else the calibrated
    # rule score registered beside it (docs/evaluation.md)
    model = registry.current_on(last_day)
    (data_through, status), = query("select data_through, status from ml.model_registry"
                                    " where model_version = %s", (model,))
    assert (last_day - data_through).days == 1 and status in ("promoted", "baseline")
    scored = query("select scored_at, model_version, count(*) from ml.ml_features "
                   "group by 1, 2")
    assert [(d, m) for d, m, _ in scored] == [(last_day, model)] and scored[0][2] > 0
    # the nightly run rebuilt the marts that read the scores after scoring: tonight's day
    assert query("select max(scored_at) from marts.ml_tenant_ltv")[0][0] == last_day
    assert query("select max(scored_at) from marts.ml_prediction_accuracy")[0][0] == last_day

    # webhooks: every delivery to the demo endpoint arrived and verified
    verified = int(re.search(r"(\d+) deliveries verified", out).group(1))
    assert f":{DEMO_RECEIVER_PORT}/" not in query(
        "select url from delivery.endpoints where endpoint_id = %s", (DEMO_ENDPOINT_ID,))[0][0]
    assert verified > 0
    assert query("select status, count(*) from delivery.outbox where endpoint_id = %s "
                 "group by 1", (DEMO_ENDPOINT_ID,)) == [("SUCCESS", verified)]
    # the night after the history (a new partition, an incremental build) left exactly the
    # landing files' events and their daily actives (tests/test_dags.py runs a first night)
    landing = tmp_path / "data" / "landing"
    reference.assert_warehouse_matches(landing, last_day)
    # every consenting user (by the landing files, read independently) was scored; the
    # users announced at risk are the ones the scores put at or above the line (the first
    # scored night: every one of them crosses it), and the demo tenant's announcements
    # all reached its endpoint
    assert set(query("select tenant_id, user_id from ml.ml_features where scored_at = %s",
                     (last_day,))) == reference.consenting_users(landing, last_day)
    announced = set(query("select tenant_id, user_id from delivery.messages"
                          " where event_type = 'user.at_risk'"))
    assert announced, "the demo data should have users at risk on its last night"
    assert announced == set(query(
        "select tenant_id, user_id from ml.ml_features where scored_at = %s"
        " and churn_probability >= %s", (last_day, AT_RISK)))
    assert query("select m.message_id from delivery.messages m join delivery.endpoints e"
                 " using (tenant_id) where e.endpoint_id = %s except select message_id"
                 " from delivery.outbox where endpoint_id = %s and status = 'SUCCESS'",
                 (DEMO_ENDPOINT_ID, DEMO_ENDPOINT_ID)) == []
    assert query("select count(*) from delivery.messages m join delivery.endpoints e"
                 " using (tenant_id) where e.endpoint_id = %s and m.event_type ="
                 " 'user.at_risk'", (DEMO_ENDPOINT_ID,))[0][0] > 0
    state = query(FINGERPRINT)
    assert all(count > 0 for _, count, _ in state), state
    last = json.loads((Path(log).parents[1] / "last_demo.json").read_text())
    assert last["deliveries_verified"] == verified and last["model_version"] == model

    second = pulse_cli(*args, env=env, timeout=1800)
    _check_quiet(second.stdout)
    assert "What was built" in second.stdout
    assert "found, not added again" in second.stdout
    assert "skipped: a previous demo loaded it and trained" in second.stdout
    assert "0 new deliveries" in second.stdout
    # nothing changed since the first run's build: the night skips it, and says why
    assert re.search(r"\] dbt\.dbt_producer_watcher +skipped +0\.0s +dbt build skipped: "
                     r"nothing changed since the last build", second.stdout), second.stdout
    skipped = re.search(r"\] dbt: \d+ model/test tasks +(\d+) skipped", second.stdout)
    assert skipped and int(skipped.group(1)) > 50, second.stdout
    assert re.search(r"\] plan_build +success +[\d.]+s +dbt build skipped: nothing changed",
                     second.stdout)
    assert re.search(r"\[(\d+)/\1\] record_build +skipped", second.stdout)
    assert query(FINGERPRINT) == state

    # a demo of other data (its landing files differ from those loaded) stops before it
    # loads anything, in one line that says how to start again
    other = pulse_cli("demo", "--size", "tiny", "--days", "40", env=env, check=False)
    assert other.returncode == 1 and other.stderr == ""
    failed = [line for line in other.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "another demo's data" in failed[0], other.stdout
    assert "make clean" in failed[0] and "PULSE_HOME" in failed[0]
    assert query(FINGERPRINT) == state


@pytest.mark.airflow
def test_a_failing_task_is_one_line_and_the_log_has_the_rest(airflow_db, tmp_path):
    """The quiet runner on a real `airflow dags test` of a DAG whose second task fails."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "pulse_demo_failing.py").write_text(textwrap.dedent('''
        from datetime import datetime
        from airflow.sdk import dag, task

        @dag(dag_id="pulse_demo_failing", schedule=None, start_date=datetime(2026, 1, 1))
        def pulse_demo_failing():
            @task
            def first():
                return 1

            @task
            def second(value):
                raise ValueError("the planted failure, value %s" % value)

            second(first())

        pulse_demo_failing()
    '''))
    lines: list[str] = []
    with (tmp_path / "run.log").open("w") as log:
        result = run_dag_test("pulse_demo_failing", "2026-01-02", log, lines.append,
                              env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags)})
    assert not result.ok
    assert result.failed_task == "second"
    assert [(t.task_id, t.state) for t in result.tasks] == [("first", "success"),
                                                            ("second", "failed")]
    assert re.search(r"\[1/2\] first +success", lines[0]) and "[2/2] second" in lines[1]
    assert len(lines) == 2
    assert any("the planted failure, value 1" in line for line in result.failed_tail)
    assert len(result.failed_tail) <= 12
    assert "the planted failure" in (tmp_path / "run.log").read_text()


def test_a_demo_that_cannot_start_says_so_in_one_line(warehouse_db, tmp_path):
    not_a_folder = tmp_path / "landing"
    not_a_folder.write_text("a file where the landing folder should be")
    # it stops at the data stage, before any DAG runs: not a slow test
    proc = pulse_cli("demo", "--size", "tiny", check=False, refused=True,
                     env={"PULSE_LANDING_DIR": str(not_a_folder)})
    assert proc.returncode == 1
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "Full log: " in failed[0] and "stage 2/" in failed[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    log = Path(failed[0].split("Full log: ")[1].strip())
    assert "Traceback" in log.read_text()
