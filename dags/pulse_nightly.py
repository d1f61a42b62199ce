"""Pulse nightly ELT.

apply raw DDL -> apply pending erasures and the retention purge -> load the day's landing
files (and any earlier ones not yet loaded) -> quality gate on raw -> dbt (one task per
model, its tests right after) -> quality gate on the models -> delete the scores of users
who withdrew ML consent -> score every user (churn, LTV, propensities)
-> fill the webhook outbox -> publish the marts Asset (pulse_delivery then sends)
-> refresh the static report (`pulse report`).

Runs at 02:00 UTC for the previous day: a cron data interval, so the run for day D covers
[D 02:00, D+1 02:00) and loads landing partitions through dt=D; a manual run
(`airflow dags test pulse_nightly 2026-03-31`) loads through the day given. Catch-up and
backfills are safe: every step is idempotent. A critical quality failure fails its gate
task and nothing downstream runs. The logic lives in `pulse.orchestration`.
"""

from datetime import timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task
from cosmos import DbtTaskGroup

from pulse import orchestration as orch

RAW = Asset(orch.RAW_ASSET_URI)
MARTS = Asset(orch.MARTS_ASSET_URI)


@dag(
    dag_id=orch.DAG_ID,
    schedule=CronDataIntervalTimetable(orch.SCHEDULE_CRON, timezone="UTC"),
    start_date=orch.START_DATE,
    catchup=True,
    max_active_runs=1,
    # A hung task (a lock never released, a stuck dbt) fails after this instead of
    # holding the only active run forever; the longest step, the dbt build, takes minutes.
    default_args={**orch.DEFAULT_ARGS, "execution_timeout": timedelta(hours=3)},
    doc_md=__doc__,
    tags=["pulse", "elt"],
)
def pulse_nightly():
    @task
    def apply_raw_ddl() -> list[str]:
        return orch.apply_raw_ddl()

    @task
    def apply_privacy(logical_date=None, dag_run=None) -> dict:
        return orch.apply_privacy(orch.target_day(logical_date, dag_run.run_after))

    @task
    def load_landing(logical_date=None, dag_run=None) -> dict:
        return orch.load_landing(orch.target_day(logical_date, dag_run.run_after))

    @task(outlets=[RAW])
    def gate_raw(load_report: dict, logical_date=None, dag_run=None) -> dict:
        day = orch.target_day(logical_date, dag_run.run_after)
        return orch.quality_gate("after_load", day, dag_run.run_id, load_report)

    transform = DbtTaskGroup(group_id="dbt", **orch.cosmos_task_group_kwargs())
    orch.start_reporters_after_the_build(transform)

    @task
    def gate_models(logical_date=None, dag_run=None) -> dict:
        day = orch.target_day(logical_date, dag_run.run_after)
        return orch.quality_gate("after_dbt", day, dag_run.run_id)

    @task
    def apply_consent() -> dict:
        return orch.apply_consent()

    @task
    def score_users(logical_date=None, dag_run=None) -> dict:
        return orch.score_users(orch.target_day(logical_date, dag_run.run_after))

    @task
    def score_tenants(logical_date=None, dag_run=None) -> dict:
        return orch.score_tenants(orch.target_day(logical_date, dag_run.run_after))

    @task
    def fill_outbox(logical_date=None, dag_run=None) -> dict:
        return orch.fill_outbox(orch.target_day(logical_date, dag_run.run_after))

    @task(outlets=[MARTS])
    def publish_marts(load_report: dict) -> dict:
        return load_report

    @task
    def refresh_report() -> dict:
        # the static report (README "Looking at the data") shows the marts just published
        from pulse.dashboards.report import refresh_report as refresh

        return refresh()

    loaded = load_landing()
    apply_raw_ddl() >> apply_privacy() >> loaded
    (gate_raw(loaded) >> transform >> gate_models() >> apply_consent() >> score_users()
     >> score_tenants() >> fill_outbox()
     >> publish_marts(loaded) >> refresh_report())


pulse_nightly()
