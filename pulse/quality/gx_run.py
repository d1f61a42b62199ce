"""Running a suite with Great Expectations 1.x: the process's GX context, a datasource
on the warehouse, one checkpoint per asset, and the Data Docs rendered once per gate.

GX is imported inside the functions: importing it costs seconds, which a CLI call that
never validates should not pay.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pulse import warehouse
from pulse.config import settings
from pulse.quality.data_docs import data_docs_dir, make_offline
from pulse.quality.record import record
from pulse.quality.results import SAMPLE, SuiteResult, check_result
from pulse.quality.scope import Scope
from pulse.quality.suites import Asset, Expectation, Suite, SuiteError

log = logging.getLogger(__name__)

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


def import_gx_in_background() -> threading.Thread:
    """Start importing GX on a thread of its own. The import is seconds of CPU in Python;
    a gate's first steps (the quarantine report, the first profiles) are seconds of
    waiting on PostgreSQL with the GIL released, so on a second core the two overlap
    (docs/incremental.md, "The gate's own time"). run_suite's own import waits for this
    one on the module's import lock, and raises what it raised, if anything."""

    def _import() -> None:
        try:
            import great_expectations  # noqa: F401
        except Exception:  # run_suite imports it again, in its own thread, and raises it
            log.debug("importing great_expectations in the background failed", exc_info=True)

    thread = threading.Thread(target=_import, name="import-gx", daemon=True)
    thread.start()
    return thread


def _connection_string() -> str:
    url = settings().warehouse().url()
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


def materialize_profiles(suite: Suite) -> None:
    """Compute each profile asset once, in one transaction, into quality.profile_<asset>."""
    profiles = [a for a in suite.assets.values() if a.materialize]
    if not profiles:
        return
    with warehouse.transaction() as conn, conn.cursor() as cur:
        for asset in profiles:
            cur.execute(f"drop table if exists quality.{asset.profile_table}")
            cur.execute(f"create table quality.{asset.profile_table} as {asset.query}")


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

    from pulse.quality.gx_unexpected_rows import UnexpectedRowsQueriedOnce

    # the stock unexpected-rows check runs its query twice (gx_unexpected_rows.py)
    cls = (UnexpectedRowsQueriedOnce if exp.type == "unexpected_rows_expectation"
           else getattr(gxe, exp.gx_class, None))
    if cls is None:
        raise SuiteError(f"{exp.name}: GX has no expectation {exp.type!r}")
    kwargs = dict(exp.kwargs)
    for key in ("min_value", "max_value"):
        if isinstance(kwargs.get(key), str):  # a filled-in date placeholder
            kwargs[key] = kwargs[key].strip("'")
    return cls(**kwargs, severity=exp.severity, meta={"pulse_name": exp.name},
               description=exp.description or None)


_run_counter = 0


def run_suite(suite: Suite, scope: Scope, run_id: str,
              log_line: Callable[[str], None] = log.info,
              profiles_ready: bool = False) -> SuiteResult:
    """Validate every asset of one suite, record the results, refresh the Data Docs.
    Its profiles are computed first, unless the caller did (`profiles_ready`)."""
    global _run_counter
    _run_counter += 1
    result = SuiteResult(suite, run_id, scope.day, scope.to_json(suite.name),
                          datetime.now(UTC))
    if not profiles_ready:
        materialize_profiles(suite)
    # after the profiles: while they run, GX may still be importing (import_gx_in_background)
    import great_expectations as gx

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
                result.results.append(check_result(exp, er, asset))
    result.finished_at = datetime.now(UTC)
    result.data_docs = str(data_docs_dir() / "index.html")
    record(result)
    for r in result.results:
        if not r.success:
            log_line(r.line())
    log_line(result.summary())
    return result


def write_data_docs(results: list[SuiteResult], log_line: Callable[[str], None]) -> None:
    """Render this run's validations into the Data Docs site, once for the whole gate
    (rendering per validation would cost more than the checks themselves)."""
    ids = [i for r in results for i in r.validation_ids]
    if ids:
        # each validation page links to its suite's page: render those too
        suites = list(dict.fromkeys(i.expectation_suite_identifier for i in ids))
        _gx_context().build_data_docs(site_names=["pulse"],
                                      resource_identifiers=[*ids, *suites])
        make_offline(data_docs_dir())
        log_line(f"Data Docs: {data_docs_dir() / 'index.html'}")
