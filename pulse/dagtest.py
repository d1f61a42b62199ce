"""`airflow dags test`, quietly: the whole output goes to a log file, and one line per
task is reported as the task finishes, with a counter and its time.

What a task did is read from Airflow's metadata database (its task instance: state,
start and end), not guessed from the text; the stream only says when a task has ended.
Tasks of a task group that reports per node (cosmos' per-model tasks) are summed up in
one line, so a dbt project of a hundred models is one line, not two hundred.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import psycopg2

from pulse.airflow_env import airflow_command, airflow_env
from pulse.config import settings

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
STARTING = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
ENDED = re.compile(r"\[DAG TEST\] end task task_id=(\S+)")
CREATED = re.compile(r"Created dag run\..*?: (\S+), state:")
SKIPPED = re.compile(r"Skipping task\..*?reason='(.*)'")
DBT_DONE = re.compile(r"Done\. (PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+)")
# The nightly run's plan_build task, when it skips the build (pulse/orchestration.py).
BUILD_SKIPPED = re.compile(r"dbt build skipped: (.*?)\s+\[pulse\.orchestration\]")
# The task that runs `dbt build` in a cosmos watcher task group; its siblings report.
PRODUCER_SUFFIX = "dbt_producer_watcher"
PRODUCER_DONE_SUFFIX = "dbt_producer_watcher_done"
# No colour codes in the log, and lines as they are written (a pipe is block-buffered).
STREAM_ENV = {"NO_COLOR": "1", "DBT_USE_COLORS": "false", "TERM": "dumb",
              "PYTHONUNBUFFERED": "1"}
TAIL_LINES = 12
SECTION_LINES = 2000  # of the running task's output, kept to pick its failure from
# What says why a task failed: error-level lines, exception messages, dbt's ERROR lines.
FAILURE_LINE = re.compile(r"\[error|^\s*(\w+\.)*\w*(Error|Exception|Failed)\b.*:|\bERROR\b")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def failure_lines(section: list[str]) -> list[str]:
    """The last lines of a failed task's output that say why (error lines, exception
    messages), or its last lines when none does; at most TAIL_LINES, each shortened."""
    found = [line for line in section if FAILURE_LINE.search(line)] or section
    return [line.rstrip()[:300] for line in found[-TAIL_LINES:]]


@dataclass
class TaskResult:
    task_id: str
    state: str
    seconds: float


@dataclass
class DagRunResult:
    dag_id: str
    run_id: str | None
    returncode: int
    tasks: list[TaskResult] = field(default_factory=list)
    # The first task that did not succeed, and the last lines of its output.
    failed_task: str | None = None
    failed_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed_task is None

    def state_of(self, task_id: str) -> str | None:
        return next((t.state for t in self.tasks if t.task_id == task_id), None)


class _Metadata:
    """Task instances of one run, read from Airflow's metadata database."""

    def __init__(self, dag_id: str) -> None:
        self.dag_id = dag_id
        self.run_id: str | None = None
        self._conn = None

    def _cursor(self):
        if self._conn is None:
            self._conn = psycopg2.connect(settings().airflow_db().dsn())
            self._conn.autocommit = True
        return self._conn.cursor()

    def find_run(self) -> None:
        if self.run_id is None:
            with self._cursor() as cur:
                cur.execute("select run_id from dag_run where dag_id = %s "
                            "order by id desc limit 1", (self.dag_id,))
                row = cur.fetchone()
                self.run_id = row[0] if row else None

    def task_count(self) -> int:
        self.find_run()
        with self._cursor() as cur:
            cur.execute("select count(*) from task_instance where dag_id = %s and run_id = %s",
                        (self.dag_id, self.run_id))
            return int(cur.fetchone()[0])

    def task(self, task_id: str) -> TaskResult:
        self.find_run()
        with self._cursor() as cur:
            cur.execute(
                "select state, extract(epoch from coalesce(end_date, now()) "
                "- coalesce(start_date, end_date, now())) from task_instance "
                "where dag_id = %s and run_id = %s and task_id = %s "
                "order by map_index limit 1", (self.dag_id, self.run_id, task_id))
            row = cur.fetchone()
        if row is None:
            return TaskResult(task_id, "unknown", 0.0)
        return TaskResult(task_id, str(row[0] or "none"), float(row[1] or 0.0))

    def skipped_unrun(self) -> list[str]:
        """Tasks the scheduler skipped without running them (below a short-circuit):
        they never start (their start is their end), so no "end task" line reports them."""
        self.find_run()
        with self._cursor() as cur:
            cur.execute("select task_id from task_instance where dag_id = %s and run_id = %s"
                        " and state = 'skipped'"
                        " and (start_date is null or start_date = end_date)",
                        (self.dag_id, self.run_id))
            found = [row[0] for row in cur.fetchall()]
        # the build's own task first, then its group's per-node tasks (one line), then
        # the tasks of no group
        return sorted(found, key=lambda t: (not t.endswith(PRODUCER_SUFFIX),
                                            _group(t) is None, t))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _group(task_id: str) -> str | None:
    """The task group whose per-node tasks are summed up, or None for a task of its own."""
    if "." not in task_id or task_id.endswith(PRODUCER_SUFFIX):
        return None
    return task_id.split(".", 1)[0]


class _Reporter:
    """Turns ended tasks into console lines: one per task, one per reporting group."""

    def __init__(self, meta: _Metadata, say: Callable[[str], None], indent: str) -> None:
        self.meta = meta
        self.say = say
        self.indent = indent
        self.total = 0
        self.done = 0
        self.results: list[TaskResult] = []
        self.dbt_summary: str | None = None
        self.skip_reason: str | None = None  # of the running task, when it skips itself
        self.build_skipped: str | None = None  # why plan_build skipped the dbt build
        self._build_skip_shown = False
        self._reported: set[str] = set()
        self._group: str | None = None
        self._group_results: list[TaskResult] = []

    def _counter(self) -> str:
        width = len(str(self.total or self.done))
        return f"[{self.done:>{width}}/{self.total or '?'}]"

    def ended(self, task_id: str) -> TaskResult:
        if not self.total:
            self.total = self.meta.task_count()
        result = self.meta.task(task_id)
        if task_id.endswith(PRODUCER_DONE_SUFFIX):
            # cosmos' own no-op after the build (it absorbs the build's skip): counted,
            # not shown, as it is neither a model nor a test
            self._reported.add(task_id)
            self.results.append(result)
            self.done += 1
            return result
        return self._report(result)

    def report_skipped(self) -> None:
        """At the end of the run: the tasks the scheduler skipped without running them.
        The scheduler marks them a layer at a time while later tasks run, so they are
        reported together, after the tasks that ran."""
        for task_id in self.meta.skipped_unrun():
            if task_id not in self._reported:
                self._report(TaskResult(task_id, "skipped", 0.0))

    def _report(self, result: TaskResult) -> TaskResult:
        task_id = result.task_id
        self._reported.add(task_id)
        self.results.append(result)
        group = _group(task_id)
        if group != self._group:
            self.flush_group()  # numbered before this task
        self.done += 1
        if group is not None:
            self._group = group
            self._group_results.append(result)
            return result
        extra = ""
        if task_id.endswith(PRODUCER_SUFFIX) and self.dbt_summary:
            extra = f"  dbt build: {self.dbt_summary}"
        if result.state == "skipped" and self.skip_reason:
            extra = f"  {self.skip_reason[:200]}"
        elif self.build_skipped and (task_id.endswith(PRODUCER_SUFFIX)
                                     or not self._build_skip_shown):
            # on the task that decided (the next to end once its log said so), and on
            # the build it skipped
            extra = f"  dbt build skipped: {self.build_skipped[:200]}"
            self._build_skip_shown = True
        self.skip_reason = None
        self.say(f"{self.indent}{self._counter()} {task_id:<34} {result.state:<8}"
                 f"{result.seconds:7.1f}s{extra}")
        return result

    def flush_group(self) -> None:
        if not self._group_results:
            return
        states = Counter(r.state for r in self._group_results)
        seconds = sum(r.seconds for r in self._group_results)
        shown = ", ".join(f"{n} {s}" for s, n in states.most_common())
        label = f"{self._group}: {len(self._group_results)} model/test tasks"
        self.say(f"{self.indent}{self._counter()} {label:<34} {shown:<8}{seconds:7.1f}s")
        # skipped: below a short-circuit (a build with nothing to do), not a fault
        not_ok = [r.task_id for r in self._group_results
                  if r.state not in ("success", "skipped")]
        if not_ok:
            more = f" (+{len(not_ok) - 5} more)" if len(not_ok) > 5 else ""
            self.say(f"{self.indent}    not successful: {', '.join(not_ok[:5])}{more}")
        self._group = None
        self._group_results = []


def run_dag_test(dag_id: str, day: str, log: TextIO, say: Callable[[str], None], *,
                 env: dict[str, str] | None = None, conf: str | None = None,
                 indent: str = "      ") -> DagRunResult:
    """Run `airflow dags test DAG_ID DAY`, its output into `log` (without colour codes),
    and `say` one line per finished task. Never raises for a failed run: the result says
    which task failed and holds the last lines of its output."""
    settings().airflow_home.mkdir(parents=True, exist_ok=True)
    cmd = airflow_command(["dags", "test", dag_id, day])
    if conf:
        cmd += ["--conf", conf]
    full_env = {**airflow_env(), **STREAM_ENV, **(env or {})}
    log.write(f"\n===== $ {' '.join(cmd)}\n")
    log.flush()
    meta = _Metadata(dag_id)
    reporter = _Reporter(meta, say, indent)
    section: deque[str] = deque(maxlen=SECTION_LINES)
    failed: tuple[str, list[str]] | None = None
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            errors="replace", bufsize=1, start_new_session=False)
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = strip_ansi(raw)
            log.write(line)
            if STARTING.search(line):
                section.clear()
            section.append(line)
            if m := CREATED.search(line):
                meta.run_id = m.group(1)
            elif m := SKIPPED.search(line):
                reporter.skip_reason = m.group(1)
            elif m := DBT_DONE.search(line):
                reporter.dbt_summary = m.group(1)
            elif m := BUILD_SKIPPED.search(line):
                reporter.build_skipped = m.group(1)
            elif m := ENDED.search(line):
                log.flush()
                result = reporter.ended(m.group(1))
                if result.state not in ("success", "skipped") and failed is None:
                    failed = (result.task_id, failure_lines(list(section)))
        returncode = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if meta.run_id is not None:
            reporter.report_skipped()
        reporter.flush_group()
        log.flush()
        meta.close()
    if failed is None and returncode != 0:
        failed = ("(before or after the tasks)", failure_lines(list(section)))
    return DagRunResult(dag_id, meta.run_id, returncode, reporter.results,
                        failed[0] if failed else None, failed[1] if failed else [])
