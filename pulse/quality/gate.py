"""The data-quality gate: runs the suites of expectations/ with Great Expectations 1.x
against the warehouse, keeps every result in quality.*, writes GX Data Docs, and fails
with a message that names what broke when a critical expectation fails.

GX is called from here rather than through the GX Airflow provider: the provider's 1.0
release resolves only by downgrading Airflow to 3.3.0, and its operators validate one
batch per task with no notion of severity or of a results table.

One concern per module: scope.py (what a run checks), gx_run.py (GX state and running a
suite), results.py (what a run found, in words), record.py (quality.* tables); this
module is the gate itself, and the names callers use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import date

from pulse.quality import suites as suites_mod
from pulse.quality.data_docs import data_docs_dir
from pulse.quality.gx_run import (
    import_gx_in_background,
    materialize_profiles,
    run_suite,
    write_data_docs,
)
from pulse.quality.record import record_quarantine_report
from pulse.quality.results import CheckResult, SuiteResult, threshold_text
from pulse.quality.scope import Scope, last_landing_day, scope_for

__all__ = ["CheckResult", "GateFailed", "Scope", "SuiteResult", "data_docs_dir",
           "failure_message", "last_landing_day", "run", "scope_for", "threshold_text"]

log = logging.getLogger(__name__)


class GateFailed(RuntimeError):
    """A critical expectation failed: nothing downstream may read tonight's data."""


def run(suite_names: Iterable[str], day: date, run_id: str,
        loaded_batches: Iterable[int] = (),
        log_line: Callable[[str], None] = log.info, raise_on_failure: bool = True,
        whole_history: bool = False) -> list[SuiteResult]:
    """Run the named suites for the night of `day`; raise GateFailed, after every result is
    recorded, when a critical expectation failed. Event-grain assets are checked for the
    rows written since their suite last passed, or every row with `whole_history`."""
    import_gx_in_background()
    scope = scope_for(day, loaded_batches, whole_history)
    suites = [suites_mod.load(name, scope.params(name)) for name in suite_names]
    # the work in PostgreSQL first, every suite's, while GX imports beside it
    if any(s.name == "raw" for s in suites):
        rows = record_quarantine_report(run_id, scope)
        log_line(f"quarantine report: {rows} row(s) in quality.quarantine_report")
    for suite in suites:
        started = time.perf_counter()
        materialize_profiles(suite)
        if any(a.materialize for a in suite.assets.values()):
            log_line(f"suite {suite.name!r}: profiles computed in "
                     f"{time.perf_counter() - started:.1f}s")
    results: list[SuiteResult] = []
    for suite in suites:
        started = time.perf_counter()
        log_line(f"Quality suite {suite.name!r} ({len(suite.expectations)} expectations) "
                 f"for {day}: {suite.description}")
        results.append(run_suite(suite, scope, run_id, log_line, profiles_ready=True))
        log_line(f"suite {suite.name!r} took {time.perf_counter() - started:.1f}s")
    write_data_docs(results, log_line)
    failed = [r for r in results if not r.success]
    if failed and raise_on_failure:
        raise GateFailed(failure_message(failed, run_id))
    return results


def failure_message(failed: list[SuiteResult], run_id: str) -> str:
    lines = ["QUALITY GATE FAILED: tonight's data stops here; nothing downstream ran."]
    for res in failed:
        lines.append(f"Suite {res.suite.name!r} ({res.summary()}):")
        lines.extend(f"  {r.line()}" for r in res.critical_failures)
    lines.append(f"All results: select * from quality.check_results where run_id = '{run_id}';"
                 f" Data Docs: {data_docs_dir() / 'index.html'}")
    lines.append("Next: fix the data or the code that produced it, then clear this task to "
                 "re-check; if a threshold is wrong, change it in expectations/<suite>.yml.")
    return "\n".join(lines)
