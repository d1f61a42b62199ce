"""What the nightly DAG's tasks do. The DAG file only wires these together.

Kept free of Airflow imports at module level so the CLI and the tests can call the same
functions the tasks call.
"""

from __future__ import annotations

import logging
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pulse import loader, migrate
from pulse.config import dbt_target, settings

log = logging.getLogger(__name__)


class LoadFailed(RuntimeError):
    """Some landing files were refused or unreadable; the others were loaded."""


def target_day(logical_date: datetime | None, run_after: datetime | None = None) -> date:
    """The landing day a run processes.

    Scheduled and backfill runs: the day of their logical date, which a cron data interval
    sets to the start of [D 02:00, D+1 02:00), so the 02:00 run on D+1 loads day D.
    Manual runs (`airflow dags test pulse_nightly 2026-03-31`): the day given. A manual
    run without a logical date processes the day before it runs.
    """
    if logical_date is not None:
        return logical_date.date()
    if run_after is None:
        raise ValueError("a run needs a logical date or a run_after time")
    return (run_after - timedelta(days=1)).date()


def apply_raw_ddl() -> list[str]:
    return migrate.apply(log=log.info)


def load_landing(through: date) -> dict[str, Any]:
    """Load every landing file up to `through` not yet in the ledger (so one run catches up
    on anything an earlier run missed). Fails after loading the rest if a file was refused."""
    landing = settings().landing_dir
    log.info("Loading landing files from %s through %s", landing, through)

    def progress(result: loader.FileResult) -> None:
        if result.status == "loaded":
            log.info("%s: %d rows, %d quarantined %s, %d held, %d admitted", result.file.rel,
                     result.rows_loaded, result.rows_rejected,
                     dict(result.rejected_by_reason) or "", result.rows_held, result.admitted)
        elif result.status != "skipped":
            log.error("%s: %s", result.file.rel, result.message)

    report = loader.load(landing, through=through, progress=progress)
    log.info(report.summary())
    if report.problems:
        message = (
            f"{len(report.problems)} landing file(s) were not loaded (the other files were):\n"
            + "\n".join(f"  {f.file.rel}: {f.message}" for f in report.problems))
        if all(f.status == "refused" for f in report.problems):
            # A file whose bytes changed stays refused until someone restores it or lands
            # the correction under a new name: a retry would only hold the run 5, then 10
            # minutes (dag_constants.DEFAULT_ARGS) before failing the same way.
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(message)
        raise LoadFailed(message)
    return report.to_dict()


# --- privacy (docs/privacy.md) --------------------------------------------------------

def apply_privacy(day: date) -> dict[str, Any]:
    """Before the load and dbt: apply pending erasure requests, then purge what is past its
    retention period (counted back from the night's day)."""
    from pulse.privacy.erasure import apply_pending
    from pulse.privacy.retention import purge

    erased = apply_pending(log=log.info)
    purged = purge(day, log=log.info)
    return {"erasure_requests_applied": len(erased),
            "rows_purged": sum(p["rows_removed"] for p in purged)}


def apply_consent() -> dict[str, Any]:
    """After dbt, before scoring: scores of users who withdrew ML consent are deleted."""
    from pulse.privacy.consent import apply_ml_consent

    return {"ml_feature_rows_deleted": apply_ml_consent(log=log.info)}


# --- the quality gate ------------------------------------------------------------------

def quality_gate(stage: str, day: date, run_id: str,
                 load_report: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the suites of one stage ("after_load" or "after_dbt") for the night of `day`.

    A critical failure raises AirflowFailException: retrying cannot fix bad data, and the
    message (suite, expectation, table and column, observed value, threshold) is the
    task's error, the last thing in its log."""
    from pulse.quality import gate, suites

    names = suites.AFTER_LOAD if stage == "after_load" else suites.AFTER_DBT
    batches = (load_report or {}).get("batch_ids") or []
    try:
        results = gate.run(names, day, run_id, loaded_batches=batches, log_line=log.info)
    except gate.GateFailed as exc:
        from airflow.sdk.exceptions import AirflowFailException

        log.error("%s", exc)
        raise AirflowFailException(str(exc)) from None
    return {r.suite.name: {"expectations": len(r.results), "warnings": len(r.warnings),
                           "critical_failures": len(r.critical_failures)} for r in results}


# --- the dbt build: skipped when nothing changed (docs/incremental.md) -------------------

def plan_build() -> dict[str, Any] | None:
    """Before the dbt build: what it is for, or None (the DAG then skips it) when no raw
    source, no project file and no built relation changed since the last build."""
    from pulse import build_plan

    planned = build_plan.plan()
    log.info("dbt build %s: %s", "needed" if planned.build else "skipped", planned.reason)
    return {"build_id": planned.build_id, "reason": planned.reason} if planned.build else None


def record_build(planned: dict[str, Any]) -> dict[str, Any]:
    """After the dbt build succeeded: the changes it read are consumed."""
    from pulse import build_plan

    build_plan.record(planned["build_id"])
    return planned


# --- after the gate: scoring and the webhook outbox ------------------------------------

def score_users(day: date) -> dict[str, Any]:
    """Churn, LTV and propensities for every consenting user (README "Scoring")."""
    from pulse.ml.score import score_day

    return score_day(day)


def score_tenants(day: date) -> dict[str, Any]:
    """Tenant churn, upgrade propensity and LTV for every paying tenant (docs/scoring.md
    "Tenant churn")."""
    from pulse.ml.tenant_score import score_day

    return score_day(day)


# The models that read what scoring writes (ml.*): rebuilt after scoring, so the marts
# published tonight show tonight's scores, not last night's. And those that read what
# webhook delivery writes (delivery.*), which pulse_delivery changes between nights: the
# night's main build is skipped when no raw source changed (pulse/build_plan.py), and
# these few models must not wait for the next one.
SCORE_READERS = "source:pulse_ml+ source:pulse_delivery+"


def build_score_marts() -> dict[str, Any]:
    """`dbt build` of the models downstream of the ML and delivery tables, after scoring."""
    from pulse import dbt_inprocess

    # In this process, as cosmos runs the night's build (pulse/dbt_inprocess.py), with the
    # target path of Pulse's own builds (BUILDS_TARGET): dbt keeps its partial-parse state
    # there, so this build re-parses nothing after the night before's (or the demo's
    # history build). dbt's output goes to the task log; no debug log file or JSON
    # artifacts, which nothing reads (a tenth of the build's CPU).
    result = dbt_inprocess.invoke([
        "--no-use-colors", "build", "--select", SCORE_READERS, "--exclude-resource-type",
        "unit_test", "--target-path", dbt_target_path(BUILDS_TARGET), "--log-level-file",
        "none", "--no-write-json"])
    if not result.success:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"dbt build --select {SCORE_READERS} failed ({result.exception or 'see above'}); "
            "the task log has dbt's output")
    built = sum(1 for r in result.result.results
                if r.node.resource_type == "model" and r.status == "success")
    return {"selector": SCORE_READERS, "models_built": built}


def fill_outbox(day: date) -> dict[str, Any]:
    """Queue the night's webhook messages; pulse_delivery sends them (README "Webhooks")."""
    from pulse.webhooks.outbox import fill_outbox as fill

    return fill(day)


# --- dbt through cosmos ----------------------------------------------------------------

def dbt_binary() -> str:
    """The dbt of this virtual environment (not one earlier on PATH): run it with
    `dbt_env()` in dbt_project/."""
    return str(Path(sys.executable).parent / "dbt")


# The target folder of the dbt builds Pulse runs itself with the warehouse's profile and
# no --vars (the scores' marts each night, the demo's history): dbt re-parses the whole
# project (~10 s) when the profile or the vars differ from its folder's last parse, and
# these never differ. They never run at once (one nightly run at a time; the demo runs
# its DAGs after its history build).
BUILDS_TARGET = "builds"


def dbt_target_path(name: str) -> str:
    """dbt's target folder for one kind of build Pulse runs itself, in Pulse's home: dbt
    keeps its partial-parse state there. Outside the project, so it leaves the project's
    hash alone (cosmos keys its dbt ls cache on it), and two homes on one machine (two
    checkouts, or the tests' parallel workers) never write one folder at once."""
    return str(settings().home / "dbt-target" / name)


def dbt_env() -> dict[str, str]:
    """Variables for dbt_project/profiles.yml, derived from WAREHOUSE_URL or the local
    cluster, so dbt always talks to the warehouse the loader wrote to."""
    from pulse.privacy.keys import pgoptions

    env = settings().warehouse().dbt_env()
    env["PULSE_DBT_TARGET"] = dbt_target()
    # The key staging hashes personal fields with, as a session setting: an env var read
    # by dbt would be written into the compiled SQL under target/ (docs/privacy.md).
    env["PGOPTIONS"] = pgoptions()
    return env


def start_reporters_after_the_build(group) -> None:
    """Make the per-model tasks of a watcher-mode task group wait for the dbt build.

    Cosmos lets them start alongside the build and poll for its progress; where tasks run
    one at a time (`airflow dags test`, a single-slot pool) a poller that starts first
    would wait forever for a build that cannot start. Once the build has run, each task
    reads its node's outcome at once.
    """
    producer = next(t for t in group if t.task_id.endswith("dbt_producer_watcher"))
    for task in group:
        if task is not producer and not task.upstream_list:
            producer >> task


def log_the_build_once(group) -> None:
    """Keep dbt's stdout logger out of the producer's build: cosmos logs it already.

    Cosmos runs the producer's `dbt build` in-process with `--log-format json` and logs
    each dbt event's message to the task log from an event callback. dbt's own stdout
    logger meanwhile formats every event as a JSON line, the debug ones too (its level
    filter comes after the formatting, which also scans the environment for secrets per
    line), and cosmos' stdout filter parses each of those lines only to drop it.
    `--log-level none` leaves that logger out; the task log stays as it is. The producer's
    only: a model task re-running its model on a retry logs through dbt's stdout."""
    producer = next(t for t in group if t.task_id.endswith("dbt_producer_watcher"))
    producer.dbt_cmd_flags = [*producer.dbt_cmd_flags, "--log-level", "none"]


# dbt events cosmos' watcher producer publishes for every node although nothing reads them.
UNREAD_NODE_EVENTS = frozenset({"NodeStart", "NodeCompiling", "NodeExecuting"})


def publish_only_finished_nodes() -> bool:
    """Keep cosmos' watcher producer from publishing the node events no task reads.

    The producer pushes an XCom for four dbt events of every node (start, compiling,
    executing, finished), each under the same key, so each overwrites the last. The model
    tasks read that key once, when the node has finished, to log its outcome; the three
    earlier pushes are never read. Nor is any event of a data test: a model's test task
    reads the model's event and the aggregate of its tests, which the producer pushes
    under keys of their own; the tests' own events (210 of a night's 507 pushes) have no
    reader. Each push is a round trip to Airflow's execution API under a lock the dbt
    threads share, so they also hold dbt back (README "Airflow"). Cosmos offers no
    setting for either; its allowlist is a module constant and its event handler a module
    function. Returns False, changing nothing, when a cosmos version no longer has them in
    the shape this expects (tests/test_dags.py checks that the pinned one does).
    """
    from cosmos.operators._watcher import base

    allowed = getattr(base, "_DBT_EVENT_ALLOWLIST", None)
    publish = getattr(base, "_process_dbt_log_event", None)
    if (not isinstance(allowed, frozenset) or not callable(publish)
            or not (UNREAD_NODE_EVENTS | {"NodeFinished"}) <= allowed):
        return False
    base._DBT_EVENT_ALLOWLIST = allowed - UNREAD_NODE_EVENTS
    if not getattr(publish, "skips_tests", False):
        base._process_dbt_log_event = _skipping_tests(publish)
    return True


def _skipping_tests(publish):
    def publish_unless_a_test(task_instance: Any, dbt_log: dict[str, Any]) -> None:
        node = (dbt_log.get("data") or {}).get("node_info") or {}
        if node.get("resource_type") != "test":
            publish(task_instance, dbt_log)

    publish_unless_a_test.skips_tests = True  # type: ignore[attr-defined]
    return publish_unless_a_test
