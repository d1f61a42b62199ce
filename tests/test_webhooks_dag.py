"""The outbox is filled from dbt's announcements, once per crossing, and what the
pulse_delivery DAG's one task runs (`pulse webhooks deliver`) delivers the user.at_risk
batch to a real receiver. Scores are planted here to pin down the crossings; the whole
night with real scores in Airflow (pulse_nightly, then pulse_delivery) is
tests/test_demo.py's, and every DAG task's timeout is checked below."""

from __future__ import annotations

import json
from datetime import date

import pytest

from generators import generate
from pulse.webhooks import endpoints, signing
from pulse.webhooks.outbox import fill_outbox
from tests.conftest import dbt_build, pulse_cli, query
from tests.test_webhooks_delivery import SETTINGS, TEST_ENV
from tests.webhook_receiver import Receiver

DAY = date(2026, 1, 3)


def _score(rows: list[tuple[str, str, date, float]]) -> None:
    """Scores as pulse.ml writes them (ml.ml_features' contract, migration 0003)."""
    query("insert into ml.model_registry (model_version, data_through, train_start, train_end,"
          " validation_start, validation_end, params, features, metrics, artifact_path,"
          " artifact_sha256) values ('test-v1', '2026-01-03', '2026-01-01', '2026-01-01',"
          " '2026-01-02', '2026-01-02', '{}', '[]', '{}', '-', '-')"
          " on conflict do nothing returning 1")
    for tenant, user, day, p in rows:
        band = "high" if p >= 0.7 else "medium" if p >= 0.3 else "low"
        query("insert into ml.ml_features values (%s, %s, %s, 'test-v1', %s, 100, '{}', %s,"
              " %s) returning 1", (tenant, user, day, p, band,
                                   json.dumps([{"feature": "recency", "contribution": 0.4}])))


@pytest.mark.dbt_build
def test_outbox_then_delivery_delivers_the_at_risk_batch(clean_warehouse, tmp_path):
    landing = tmp_path / "landing"
    generate(landing, seed=5, tenants=2, users=20, days=3, start=date(2026, 1, 1), dirty=0)
    pulse_cli("load", env={"PULSE_LANDING_DIR": str(landing)})
    # what the outbox, the users picked below and the delivery mart read: half the project
    dbt_build("--select", "+webhook_announcements +webhook_delivery_performance +dim_users")
    t1, other = [t for (t,) in query(
        "select tenant_id from marts.dim_users group by 1 order by count(*) desc, 1")][:2]
    u1, u2, u3 = [u for (u,) in query(
        "select user_id from marts.dim_users where tenant_id = %s order by 1 limit 3", (t1,))]

    secret = signing.new_secret()
    with Receiver([secret.reveal()]) as rx:
        ep, _ = endpoints.add(t1, rx.url, event_types=["user.at_risk"], secret=secret,
                              settings=SETTINGS)
        # the other tenant's endpoint wants payloads with risk_band low: none tonight
        endpoints.add(other, rx.url, secret=secret, settings=SETTINGS,
                      filter={"risk_band": "low"})
        # The night before, u1 was below the line and u2 above; tonight u1 crosses, u2
        # stays above (announced already), u3 is scored for the first time, above.
        _score([(t1, u1, date(2026, 1, 2), 0.5), (t1, u2, date(2026, 1, 2), 0.9),
                (t1, u1, DAY, 0.8), (t1, u2, DAY, 0.95), (t1, u3, DAY, 0.75)])

        first = fill_outbox(DAY)
        again = fill_outbox(DAY)
        assert first["new_messages"] > 0 and first["messages_user.at_risk"] == 2
        assert first["messages_tenant.daily_digest"] == 2
        assert again["new_messages"] == 0 and again["new_deliveries"] == 0
        expected = set(query("select message_id from delivery.messages where event_type ="
                             " 'user.at_risk'"))
        assert {m for (m,) in expected} == {
            m for (m,) in query("select message_id from delivery.outbox")}

        proc = pulse_cli("webhooks", "deliver", env=TEST_ENV)
        assert secret.reveal() not in proc.stdout + proc.stderr

    assert [r.verified for r in rx.requests] == [True]
    batch = json.loads(rx.requests[0].body)
    assert {e["id"] for e in batch["events"]} == {m for (m,) in expected}
    assert {e["user_id"] for e in batch["events"]} == {u1, u3}
    assert all(e["type"] == "user.at_risk" and e["data"]["risk_band"] == "high"
               for e in batch["events"])
    assert set(query("select status from delivery.outbox")) == {("SUCCESS",)}
    perf = query("select tenant_id, event_type, deliveries, delivered, success_rate"
                 " from marts.webhook_delivery_performance")
    assert perf == [(t1, "user.at_risk", 2, 2, 1)]
    assert ep.endpoint_id in pulse_cli("webhooks", "endpoints", "list", "--tenant", t1).stdout


# Run in a child process, as tests/test_dags.py does: DagBag talks to Airflow's database.
TIMEOUTS_PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"import_errors": bag.import_errors, "timeouts": {
    f"{dag_id}.{t.task_id}": t.execution_timeout.total_seconds()
    if t.execution_timeout else None
    for dag_id, dag in bag.dags.items() for t in dag.tasks}}))
"""


def test_every_dag_task_has_an_execution_timeout(airflow_db):
    import subprocess
    import sys

    from pulse.airflow_env import airflow_env
    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, "-c", TIMEOUTS_PROBE, str(REPO / "dags")],
                          env=airflow_env(), capture_output=True, text=True, timeout=600,
                          check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["import_errors"] == {}
    timeouts = result["timeouts"]
    assert {t.split(".")[0] for t in timeouts} == {"pulse_nightly", "pulse_delivery",
                                                   "pulse_train"}
    # cosmos' dbt tasks included: a hung task fails instead of holding its DAG's only run
    assert "pulse_nightly.dbt.dbt_producer_watcher" in timeouts
    assert [t for t, seconds in timeouts.items() if not seconds] == []
    # a delivery run stops claiming after PULSE_WEBHOOK_MAX_RUN_SECONDS (240 s by default),
    # well before its task times out
    assert timeouts["pulse_delivery.deliver_due"] == 600
