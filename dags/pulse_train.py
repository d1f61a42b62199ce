"""Pulse model training: user churn, LTV inputs and propensities (README "Scoring"), and
the tenant churn model (docs/scoring.md "Tenant churn"), as two independent tasks.

Runs weekly (Monday 04:00 UTC, after the nightly run), on demand (trigger it with params
to train as of a day or on explicit ranges), and each time the nightly run publishes
its marts, when it trains only if no model exists yet. Too little history to train is a
skip, not a failure. The logic lives in `pulse.ml.jobs`.
"""

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from pulse import dag_constants as dc
from pulse.ml import jobs

DATE = ["null", "string"]


@dag(
    dag_id=dc.TRAIN_DAG_ID,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(dc.TRAIN_CRON, timezone="UTC"), assets=[dc.MARTS]),
    start_date=dc.START_DATE,
    catchup=False,
    max_active_runs=1,
    # A hung training fails after this instead of blocking the weekly run.
    default_args={**dc.DEFAULT_ARGS, "retries": 1, "execution_timeout": timedelta(hours=2)},
    doc_md=__doc__,
    tags=["pulse", "ml"],
    params={
        "as_of": Param(None, type=DATE, description="train as of this day (YYYY-MM-DD); "
                       "default: the last loaded day"),
        **{name: Param(None, type=DATE, description="explicit range bound (all four or none)")
           for name in jobs.RANGE_PARAMS},
        "seed": Param(None, type=["null", "integer"], description="default: the project seed"),
        "max_iter": Param(None, type=["null", "integer"], minimum=1,
                          description="boosting rounds of the user churn model (recorded "
                          "with the model); default: the tuned value, pulse.ml.model"),
    },
)
def pulse_train():
    @task
    def train_model(params=None, dag_run=None) -> dict:
        from pulse.ml.train import NotEnoughHistory

        reason = jobs.wanted(getattr(dag_run.run_type, "value", str(dag_run.run_type)))
        if reason is None:
            raise AirflowSkipException("a model exists; the weekly run or a manual trigger "
                                       "retrains")
        try:
            result = jobs.train_from_params(dict(params or {}))
        except NotEnoughHistory as exc:
            raise AirflowSkipException(str(exc)) from exc
        # status: promoted or rejected by the gate (docs/evaluation.md), with the reason
        return {k: result[k] for k in ("model_version", "ranges", "artifact_sha256",
                                       "status", "reason")} | {
            "roc_auc": result["metrics"]["model"]["roc_auc"],
            "rule_based_roc_auc": result["metrics"]["rule_based_health_score"]["roc_auc"],
        }

    @task
    def train_tenant_model(params=None, dag_run=None) -> dict:
        from pulse.ml.tenant import NotEnoughHistory

        reason = jobs.tenant_wanted(getattr(dag_run.run_type, "value", str(dag_run.run_type)))
        if reason is None:
            raise AirflowSkipException("a tenant model exists; the weekly run or a manual "
                                       "trigger retrains")
        try:
            return jobs.train_tenant_from_params(dict(params or {}))
        except NotEnoughHistory as exc:
            raise AirflowSkipException(str(exc)) from exc

    train_model()
    train_tenant_model()


pulse_train()
