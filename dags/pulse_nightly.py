"""Pulse nightly ELT.

apply raw DDL -> apply pending erasures and the retention purge -> load the day's landing
files (and any earlier ones not yet loaded) -> quality gate on raw -> is there anything
new to build? -> dbt (one task per model, its tests right after; skipped when nothing
changed) -> record the build -> quality gate on the models -> delete the scores of users
who withdrew ML consent -> score every user (churn, LTV, propensities) -> dbt rebuilds
the marts that read the scores -> fill the webhook outbox -> publish the marts Asset
(pulse_delivery then sends) -> refresh the static report (`pulse report`).

Runs at 02:00 UTC for the previous day: a cron data interval, so the run for day D covers
[D 02:00, D+1 02:00) and loads landing partitions through dt=D; a manual run
(`airflow dags test pulse_nightly 2026-03-31`) loads through the day given. Catch-up and
backfills are safe: every step is idempotent. A critical quality failure fails its gate
task and nothing downstream runs. The logic lives in `pulse.orchestration`.

dbt runs through cosmos in watcher mode: one producer task runs a single `dbt build`
(in-process, dbtRunner), and every model gets a task, and its tests another, that report
that node's outcome as dbt finishes it. The graph, retries and failures stay per model,
while dbt parses and connects once instead of once per node (~40 s for a nightly run
instead of several minutes).
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from pulse import dag_constants as dc
from pulse import orchestration as orch
from pulse.config import REPO_ROOT, dbt_target

DBT_PROJECT = REPO_ROOT / "dbt_project"
# Unit tests check the SQL on fixed fixtures: CI's job (tests/test_dbt_project.py), not
# every night's; dbt advises against running them in production builds. Excluded when
# the DAG is rendered (cosmos has no task for them: a parse warning each) and from the
# build the producer task runs (operator_args below). Exposures (the dashboards, for the
# dbt docs) run nothing: left out of the render for the same reason.
NOT_RENDERED = ["resource_type:unit_test", "resource_type:exposure"]

project_config = ProjectConfig(
    dbt_project_path=DBT_PROJECT,
    env_vars=orch.dbt_env(),
    install_dbt_deps=False,  # no packages: the project's macros are its own
)
profile_config = ProfileConfig(
    profile_name="pulse",
    target_name=dbt_target(),
    profiles_yml_filepath=DBT_PROJECT / "profiles.yml",
)
execution_config = ExecutionConfig(
    execution_mode=ExecutionMode.WATCHER,
    invocation_mode=InvocationMode.DBT_RUNNER,
    # dbt is found next to this interpreter, whatever PATH the worker has.
    dbt_executable_path=orch.dbt_binary(),
)
render_config = RenderConfig(
    load_method=LoadMode.DBT_LS,
    invocation_mode=InvocationMode.DBT_RUNNER,
    test_behavior=TestBehavior.AFTER_EACH,
    exclude=NOT_RENDERED,
    emit_datasets=False,  # the DAG publishes one Asset per layer instead
)


@dag(
    dag_id=dc.NIGHTLY_DAG_ID,
    schedule=CronDataIntervalTimetable(dc.NIGHTLY_CRON, timezone="UTC"),
    start_date=dc.START_DATE,
    catchup=True,
    max_active_runs=1,
    # A hung task (a lock never released, a stuck dbt) fails after this instead of
    # holding the only active run forever; the longest step, the dbt build, takes minutes.
    default_args={**dc.DEFAULT_ARGS, "execution_timeout": timedelta(hours=3)},
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

    @task(outlets=[dc.RAW])
    def gate_raw(load_report: dict, logical_date=None, dag_run=None) -> dict:
        day = orch.target_day(logical_date, dag_run.run_after)
        return orch.quality_gate("after_load", day, dag_run.run_id, load_report)

    # Nothing new since the last build (a re-run, a night without files): the build's
    # tasks are skipped and the night goes on from the gate (docs/incremental.md).
    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def plan_build() -> dict | None:
        return orch.plan_build()

    @task
    def record_build(planned: dict) -> dict:
        return orch.record_build(planned)

    transform = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config,
        profile_config=profile_config,
        execution_config=execution_config,
        render_config=render_config,
        # dbt's debug log file would go to the temporary copy of the project cosmos runs
        # in, and be deleted with it: not written at all, a tenth of a small build's time.
        operator_args={"dbt_cmd_flags": ["--exclude-resource-type", "unit_test",
                                         "--log-level-file", "none"]},
    )
    orch.start_reporters_after_the_build(transform)
    orch.log_the_build_once(transform)
    orch.publish_only_finished_nodes()

    @task(trigger_rule="none_failed")  # runs after a skipped build too
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
    def build_score_marts() -> dict:
        return orch.build_score_marts()

    @task
    def fill_outbox(logical_date=None, dag_run=None) -> dict:
        return orch.fill_outbox(orch.target_day(logical_date, dag_run.run_after))

    @task(outlets=[dc.MARTS])
    def publish_marts(load_report: dict) -> dict:
        return load_report

    @task
    def refresh_report() -> dict:
        # the static report (README "Looking at the data") shows the marts just published
        from pulse.dashboards.report import refresh_report as refresh

        return refresh()

    loaded = load_landing()
    apply_raw_ddl() >> apply_privacy() >> loaded
    planned = plan_build()
    (gate_raw(loaded) >> planned >> transform >> record_build(planned) >> gate_models()
     >> apply_consent() >> score_users()
     >> score_tenants() >> build_score_marts() >> fill_outbox()
     >> publish_marts(loaded) >> refresh_report())


pulse_nightly()
