"""The data-quality gate: runs the suites of expectations/ with Great Expectations 1.x
against the warehouse, keeps every result in quality.*, writes GX Data Docs, and fails
with a message that names what broke when a critical expectation fails.

GX is called from here rather than through the GX Airflow provider: the provider's 1.0
release resolves only by downgrading Airflow to 3.3.0, and its operators validate one
batch per task with no notion of severity or of a results table.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pulse import warehouse
from pulse.config import settings
from pulse.quality import suites as suites_mod
from pulse.quality.suites import Asset, Expectation, Suite

log = logging.getLogger(__name__)

STALE_BOUND_DAYS = 30  # expectations/raw.yml: events older than this on arrival are stale
SAMPLE = 5  # offending rows quoted in a failure message


class GateFailed(RuntimeError):
    """A critical expectation failed: nothing downstream may read tonight's data."""


@dataclass
class CheckResult:
    expectation: Expectation
    success: bool
    observed: str
    observed_number: float | None
    threshold: str
    details: dict[str, Any]

    def line(self) -> str:
        e = self.expectation
        where = e.table + (f".{e.column}" if e.column and "," not in e.column else
                           f" ({e.column})" if e.column else "")
        mark = "ok" if self.success else "FAILED"
        return (f"[{e.severity}] {mark}: {e.name} on {where}: observed {self.observed}; "
                f"expected {self.threshold}")


@dataclass
class SuiteResult:
    suite: Suite
    run_id: str
    day: date
    scope: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None = None
    results: list[CheckResult] = field(default_factory=list)
    data_docs: str | None = None
    validation_ids: list[Any] = field(default_factory=list)  # GX's, for the Data Docs

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.expectation.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.expectation.severity == "warning"]

    @property
    def success(self) -> bool:
        return not self.critical_failures

    def summary(self) -> str:
        return (f"suite {self.suite.name}: {len(self.results)} expectations, "
                f"{len(self.critical_failures)} critical failure(s), "
                f"{len(self.warnings)} warning(s)")


@dataclass(frozen=True)
class Scope:
    """What a gate run checks: the night's day and, for the raw suite, the batches."""

    day: date
    batches: tuple[int, ...]
    first_day: date

    def params(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "scope_batches": list(self.batches) or [0],  # [0]: no batch, an empty scope
            "min_event_date": self.first_day - timedelta(days=STALE_BOUND_DAYS),
            "max_event_date": self.day + timedelta(days=1),
        }

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "first_day": self.first_day.isoformat(),
                "batches": len(self.batches),
                "batch_range": [min(self.batches), max(self.batches)] if self.batches else None}


def scope_for(day: date, loaded_batches: Iterable[int] = ()) -> Scope:
    """The batches this run loaded plus every batch of the day's landing partition, so a
    re-run that loads nothing checks the same night again."""
    conn = warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select coalesce(array_agg(batch_id), '{}'), min(partition_date) "
                        "from raw.load_ledger where partition_date = %s", (day,))
            of_day, _ = cur.fetchone()
            cur.execute("select min(partition_date) from raw.load_ledger")
            first_day = cur.fetchone()[0] or day
    finally:
        conn.close()
    return Scope(day, tuple(sorted(set(of_day) | set(loaded_batches))), first_day)


def last_landing_day() -> date:
    conn = warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select max(partition_date) from raw.load_ledger where status = 'loaded'")
            day = cur.fetchone()[0]
    finally:
        conn.close()
    if day is None:
        raise suites_mod.SuiteError("nothing is loaded yet: run `pulse load` first, or pass --day")
    return day


# --- running GX ------------------------------------------------------------------------

_context = None
_context_docs: Path | None = None


def _gx_context():
    """One ephemeral GX context per process and Data Docs folder: importing GX costs
    seconds, building a context little; nothing of GX's is written but the Data Docs.
    A changed PULSE_DATA_DIR (another warehouse in the same process) gets a new context,
    so its Data Docs land in its own folder."""
    global _context, _context_docs
    docs = data_docs_dir()
    if _context is None or _context_docs != docs:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        _context = gx.get_context(mode="ephemeral")
        _context_docs = docs
        # tqdm bars would bury the gate's own lines in the task log.
        _context.variables.progress_bars = ProgressBarsConfig(globally=False)
        _context.add_data_docs_site(site_name="pulse", site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(docs)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    return _context


def data_docs_dir() -> Path:
    return settings().data_dir / "quality" / "data_docs"


def _connection_string() -> str:
    url = settings().warehouse().url()
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


def _materialize(suite: Suite) -> None:
    """Compute each profile asset once, in one transaction, into quality.profile_<asset>."""
    profiles = [a for a in suite.assets.values() if a.materialize]
    if not profiles:
        return
    conn = warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            for asset in profiles:
                cur.execute(f"drop table if exists quality.{asset.profile_table}")
                cur.execute(f"create table quality.{asset.profile_table} as {asset.query}")
    finally:
        conn.close()


def _gx_asset(datasource, suite: Suite, asset: Asset):
    name = f"{suite.name}__{asset.name}"
    if asset.query and not asset.materialize:
        return datasource.add_query_asset(name, query=asset.query)
    schema, table = (("quality", asset.profile_table) if asset.materialize
                     else asset.table.split(".", 1))
    with warnings.catch_warnings():
        # GX 1.x would have one datasource per schema; the gate reads several schemas.
        warnings.filterwarnings("ignore", message=".*schema_name.*deprecated",
                                category=DeprecationWarning)
        return datasource.add_table_asset(name, table_name=table, schema_name=schema)


def _gx_expectation(exp: Expectation):
    from great_expectations import expectations as gxe

    cls = getattr(gxe, exp.gx_class, None)
    if cls is None:
        raise suites_mod.SuiteError(f"{exp.name}: GX has no expectation {exp.type!r}")
    kwargs = dict(exp.kwargs)
    for key in ("min_value", "max_value"):
        if isinstance(kwargs.get(key), str):  # a filled-in date placeholder
            kwargs[key] = kwargs[key].strip("'")
    return cls(**kwargs, severity=exp.severity, meta={"pulse_name": exp.name},
               description=exp.description or None)


_run_counter = 0


def run_suite(suite: Suite, scope: Scope, run_id: str,
              log_line: Callable[[str], None] = log.info) -> SuiteResult:
    """Validate every asset of one suite, record the results, refresh the Data Docs."""
    import great_expectations as gx

    global _run_counter
    _run_counter += 1
    result = SuiteResult(suite, run_id, scope.day, scope.to_json(), datetime.now(UTC))
    _materialize(suite)
    ctx = _gx_context()
    datasource = ctx.data_sources.add_postgres(
        f"warehouse_{_run_counter}", connection_string=_connection_string())
    for asset_name, exps in suite.by_asset().items():
        asset = suite.assets[asset_name]
        batch_def = _gx_asset(datasource, suite, asset).add_batch_definition_whole_table("all")
        gx_suite = ctx.suites.add_or_update(gx.ExpectationSuite(
            name=f"{suite.name}.{asset_name}", expectations=[_gx_expectation(e) for e in exps]))
        # Only COMPLETE makes an unexpected-rows expectation return the rows it found,
        # which the failure message quotes; full lists are cut before they are stored.
        complete = any(e.type == "unexpected_rows_expectation" for e in exps)
        result_format: dict[str, Any] = {"result_format": "COMPLETE" if complete else "SUMMARY",
                                         "partial_unexpected_count": SAMPLE}
        if asset.key:
            result_format["unexpected_index_column_names"] = list(asset.key)
        validation = ctx.validation_definitions.add_or_update(gx.ValidationDefinition(
            name=f"{suite.name}.{asset_name}", data=batch_def, suite=gx_suite))
        checkpoint = ctx.checkpoints.add_or_update(gx.Checkpoint(
            name=f"{suite.name}.{asset_name}",
            validation_definitions=[validation], result_format=result_format,
        ))
        by_name = {e.name: e for e in exps}
        outcome = checkpoint.run(run_id=gx.RunIdentifier(run_name=run_id))
        for identifier, vr in outcome.run_results.items():
            result.validation_ids.append(identifier)
            for er in vr.results:
                exp = by_name[er.expectation_config.meta["pulse_name"]]
                result.results.append(_check_result(exp, er, asset))
    result.finished_at = datetime.now(UTC)
    result.data_docs = str(data_docs_dir() / "index.html")
    record(result)
    for r in result.results:
        if not r.success:
            log_line(r.line())
    log_line(result.summary())
    return result


def _check_result(exp: Expectation, er, asset: Asset) -> CheckResult:
    res = dict(er.result or {})
    message = _exception_message(er.exception_info or {})
    if message is not None:
        return CheckResult(exp, False, f"error: {message}", None, threshold_text(exp),
                           {"exception": message})
    for key in ("unexpected_list", "unexpected_index_list", "unexpected_index_query"):
        res.pop(key, None)
    if isinstance(res.get("details"), dict) and "unexpected_rows" in res["details"]:
        res["details"] = {**res["details"],
                          "unexpected_rows": res["details"]["unexpected_rows"][:20]}
    details = json.loads(json.dumps(res, default=str))
    if "observed_value" in res:
        observed = res["observed_value"]
        number = _number(observed)
        text = _fmt(observed)
        rows = (res.get("details") or {}).get("unexpected_rows") or []
        if exp.type == "unexpected_rows_expectation":
            text = f"{observed} unexpected row(s)"
            if rows:
                text += ", e.g. " + "; ".join(_row(r) for r in rows[:SAMPLE])
        return CheckResult(exp, bool(er.success), text, number, threshold_text(exp), details)
    unexpected = res.get("unexpected_count") or 0
    total = res.get("element_count") or 0
    text = f"{unexpected} of {total} rows unexpected"
    samples = res.get("partial_unexpected_index_list") or res.get("partial_unexpected_list") or []
    if unexpected and samples:
        text += ", e.g. " + "; ".join(_row(s) if isinstance(s, dict) else _fmt(s)
                                      for s in samples[:SAMPLE])
    numeric = [v for v in (_number(x) for x in res.get("partial_unexpected_list") or [])
               if v is not None]
    # The chartable figure: the worst offending value when there is one, else the count.
    number = (max(numeric, key=abs) if numeric else float(unexpected))
    return CheckResult(exp, bool(er.success), text, number, threshold_text(exp), details)


def _exception_message(info: dict[str, Any]) -> str | None:
    """GX reports an error either flat or per metric; either way, its first line."""
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for item in candidates:
        if item.get("raised_exception"):
            text = str(item.get("exception_message") or "unknown error").strip()
            return text.splitlines()[0][:300]
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _row(row: Any) -> str:
    if isinstance(row, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in row.items())
    return _fmt(row)


def threshold_text(exp: Expectation) -> str:
    k = exp.kwargs
    t = exp.type
    if t == "unexpected_rows_expectation":
        text = "no unexpected rows"
    elif "min_value" in k or "max_value" in k:
        lo, hi = k.get("min_value"), k.get("max_value")
        subject = k.get("column", "value")
        if lo is not None and hi is not None:
            text = f"{lo} <= {subject} <= {hi}"
        elif hi is not None:
            text = f"{subject} <= {hi}"
        else:
            text = f"{subject} >= {lo}"
    elif "value_set" in k:
        values = ", ".join(map(str, k["value_set"][:10]))
        text = f"{k.get('column')} in {{{values}}}"
    elif t == "expect_column_pair_values_a_to_be_greater_than_b":
        op = ">=" if k.get("or_equal") else ">"
        text = f"{k['column_A']} {op} {k['column_B']}"
    elif t == "expect_column_values_to_not_be_null":
        text = f"{k['column']} not null"
    elif "unique" in t:
        text = f"{', '.join(k.get('column_list') or [k.get('column')])} unique"
    else:
        text = json.dumps(k, default=str)
    if k.get("mostly") is not None:
        text += f" for at least {k['mostly']:.1%} of rows"
    return text.replace("'", "")


# --- recording -------------------------------------------------------------------------

def record(result: SuiteResult) -> None:
    """Replace this run's rows for the suite (a re-run of the same run replaces them)."""
    conn = warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("delete from quality.gate_runs where run_id = %s and suite = %s",
                        (result.run_id, result.suite.name))
            cur.execute(
                "insert into quality.gate_runs (run_id, suite, data_day, started_at, finished_at,"
                " success, expectations, critical_failures, warnings, scope, data_docs)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (result.run_id, result.suite.name, result.day, result.started_at,
                 result.finished_at, result.success, len(result.results),
                 len(result.critical_failures), len(result.warnings),
                 json.dumps(result.scope), result.data_docs))
            cur.executemany(
                "insert into quality.check_results (run_id, suite, expectation, data_day,"
                " checked_at, expectation_type, severity, success, table_name, column_name,"
                " observed_value, observed_number, threshold, details)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(result.run_id, result.suite.name, r.expectation.name, result.day,
                  result.finished_at, r.expectation.type, r.expectation.severity, r.success,
                  r.expectation.table, r.expectation.column, r.observed, r.observed_number,
                  r.threshold, json.dumps(r.details, default=str)) for r in result.results])
    finally:
        conn.close()


def record_quarantine_report(run_id: str, scope: Scope) -> int:
    """Lines not loaded as they arrived, of the batches in scope, by batch, reason and
    tenant: quarantined lines, and lines of unknown tenants held, admitted tonight or
    quarantined tonight once their grace period ended (docs/loading.md)."""
    conn = warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("delete from quality.quarantine_report where run_id = %s", (run_id,))
            cur.execute(
                "insert into quality.quarantine_report (run_id, data_day, batch_id, file_path,"
                " reason_code, tenant_id, rejected_lines)"
                " select %(run)s, %(day)s, batch_id, file_path, reason_code, tenant_id, count(*)"
                " from ("
                "   select batch_id, file_path, reason_code,"
                "          coalesce(tenant_id, '(unreadable)') as tenant_id"
                "   from raw.rejected_events where batch_id = any(%(batches)s)"
                "   union all"
                "   select batch_id, file_path,"
                "          case status when 'held' then 'held_unknown_tenant'"
                "                      when 'admitted' then 'admitted_unknown_tenant'"
                "                      else 'unknown_tenant' end,"
                "          tenant_id"
                "   from raw.held_events"
                "   where (status = 'held' and batch_id = any(%(batches)s))"
                "      or (status = 'admitted' and resolved_batch_id = any(%(batches)s))"
                # expired from an earlier night's file: not in that night's rejected lines
                "      or (status = 'expired' and resolved_batch_id = any(%(batches)s)"
                "          and not batch_id = any(%(batches)s))"
                " ) as lines"
                " group by batch_id, file_path, reason_code, tenant_id",
                {"run": run_id, "day": scope.day, "batches": list(scope.batches)})
            return cur.rowcount
    finally:
        conn.close()


# --- the gate --------------------------------------------------------------------------

def run(suite_names: Iterable[str], day: date, run_id: str,
        loaded_batches: Iterable[int] = (),
        log_line: Callable[[str], None] = log.info, raise_on_failure: bool = True,
        ) -> list[SuiteResult]:
    """Run the named suites for the night of `day`; raise GateFailed, after every result is
    recorded, when a critical expectation failed."""
    scope = scope_for(day, loaded_batches)
    results: list[SuiteResult] = []
    for name in suite_names:
        started = time.perf_counter()
        suite = suites_mod.load(name, scope.params())
        log_line(f"Quality suite {name!r} ({len(suite.expectations)} expectations) "
                 f"for {day}: {suite.description}")
        if name == "raw":
            rows = record_quarantine_report(run_id, scope)
            log_line(f"quarantine report: {rows} row(s) in quality.quarantine_report")
        results.append(run_suite(suite, scope, run_id, log_line))
        log_line(f"suite {name!r} took {time.perf_counter() - started:.1f}s")
    write_data_docs(results, log_line)
    failed = [r for r in results if not r.success]
    if failed and raise_on_failure:
        raise GateFailed(failure_message(failed, run_id))
    return results


def write_data_docs(results: list[SuiteResult], log_line: Callable[[str], None]) -> None:
    """Render this run's validations into the Data Docs site, once for the whole gate
    (rendering per validation would cost more than the checks themselves)."""
    from pulse.quality.data_docs import make_offline

    ids = [i for r in results for i in r.validation_ids]
    if ids:
        # each validation page links to its suite's page: render those too
        suites = list(dict.fromkeys(i.expectation_suite_identifier for i in ids))
        _gx_context().build_data_docs(site_names=["pulse"],
                                      resource_identifiers=[*ids, *suites])
        make_offline(data_docs_dir())
        log_line(f"Data Docs: {data_docs_dir() / 'index.html'}")


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
