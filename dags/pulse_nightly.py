"""Pulse nightly ELT.

apply raw DDL -> load the day's landing files (and any earlier ones not yet loaded)
-> dbt (one task per model, its tests right after) -> publish the marts Asset.

Runs at 02:00 UTC for the previous day: a cron data interval, so the run for day D covers
[D 02:00, D+1 02:00) and loads landing partitions through dt=D; a manual run
(`airflow dags test pulse_nightly 2026-03-31`) loads through the day given. Catch-up and
backfills are safe: every step is idempotent. The logic lives in `pulse.orchestration`.
"""

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
    default_args=orch.DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["pulse", "elt"],
)
def pulse_nightly():
    @task
    def apply_raw_ddl() -> list[str]:
        return orch.apply_raw_ddl()

    @task(outlets=[RAW])
    def load_landing(logical_date=None, dag_run=None) -> dict:
        return orch.load_landing(orch.target_day(logical_date, dag_run.run_after))

    transform = DbtTaskGroup(group_id="dbt", **orch.cosmos_task_group_kwargs())
    orch.start_reporters_after_the_build(transform)

    @task(outlets=[MARTS])
    def publish_marts(load_report: dict) -> dict:
        return load_report

    loaded = load_landing()
    apply_raw_ddl() >> loaded >> transform >> publish_marts(loaded)


pulse_nightly()
