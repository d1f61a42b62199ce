"""Pulse webhook delivery.

Sends every webhook batch that is due: when the nightly run publishes the marts Asset
(its last step fills the outbox), and every five minutes for retries. One task; the
logic (signing, batching, rate limits, retries, leases) lives in `pulse.webhooks.deliver`.
A run that dies mid-delivery leaves its batches leased; a later run takes them over.
A run stops claiming after PULSE_WEBHOOK_MAX_RUN_SECONDS (default 240 s, before the next
run is due); the task's execution_timeout is the backstop if something hangs anyway.
"""

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from pulse import dag_constants as dc


@dag(
    dag_id=dc.DELIVERY_DAG_ID,
    # dc.MARTS: published by pulse_nightly after it fills the outbox
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(dc.DELIVERY_RETRY_CRON, timezone="UTC"),
        assets=[dc.MARTS]),
    start_date=dc.START_DATE,
    catchup=False,
    max_active_runs=1,
    # No task retries: the next run, five minutes later, is the retry.
    default_args={**dc.DEFAULT_ARGS, "retries": 0,
                  "execution_timeout": timedelta(minutes=10)},
    doc_md=__doc__,
    tags=["pulse", "webhooks"],
)
def pulse_delivery():
    @task
    def deliver_due() -> dict:
        from pulse.webhooks.deliver import deliver_due

        return deliver_due()

    deliver_due()


pulse_delivery()
