"""GX's unexpected-rows check, with its query run once.

GX 1.x's `UnexpectedRowsExpectation` resolves two metrics, the rows found (the first
200) and their count, and each runs the check's query: every check paid twice, and a
check that finds nothing reads all it reads both times. `UnexpectedRowsQueriedOnce` asks
one metric that returns both, the first rows each carrying the count of all of them, so
a check costs one pass (the star suite's first check of xl's month: 116 s to about 30 s with
the partitioned parent's statistics, docs/scale-out.md). Its results have the stock
shape (`observed_value` the count, `details.unexpected_rows` the rows), and it renders
as the stock expectation does, its renderers being inherited.

Imported only where GX is (importing GX costs seconds).
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.constants import MAX_RESULT_RECORDS
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.result_format import ResultFormat
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations import UnexpectedRowsExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metric_provider import QueryMetricProvider

METRIC = "pulse_unexpected_rows.counted_sample"
TOTAL = "pulse_unexpected_total"


class UnexpectedRowsCountedSample(QueryMetricProvider):
    """The first MAX_RESULT_RECORDS rows of the check's query, each with the count of all."""

    metric_name = METRIC
    value_keys = ("unexpected_rows_query",)
    query_param_name: ClassVar[str] = "unexpected_rows_query"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, execution_engine: SqlAlchemyExecutionEngine,
                    metric_domain_kwargs: dict, metric_value_kwargs: dict,
                    metrics: dict[str, Any], runtime_configuration: dict) -> list[dict]:
        import sqlalchemy as sa

        selectable, _, _ = execution_engine.get_compute_domain(
            metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE)
        query = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
            query=cls._get_query_from_metric_value_kwargs(metric_value_kwargs),
            batch_selectable=selectable, execution_engine=execution_engine)
        # Materialized, the check's query is planned for all its rows, as a count is: a
        # LIMIT over it would have PostgreSQL pick a fast-start plan (an ordered index
        # scan of every fct_events row: 13 s for a 3 s check at xl, docs/scale-out.md).
        sql = (f"WITH unexpected AS MATERIALIZED ({query}) "
               f"SELECT unexpected.*, (SELECT COUNT(*) FROM unexpected) AS {TOTAL} "
               f"FROM unexpected LIMIT {MAX_RESULT_RECORDS}")
        rows = execution_engine.execute_query(sa.text(sql)).fetchall()
        return [row._asdict() for row in rows]


class UnexpectedRowsQueriedOnce(UnexpectedRowsExpectation):
    """`unexpected_rows_expectation`, resolved from one query (module docstring)."""

    metric_dependencies: ClassVar[tuple[str, ...]] = (METRIC,)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine=None) -> dict:
        config = self._get_result_format(runtime_configuration=runtime_configuration)
        result_format = (config.get("result_format", ResultFormat.SUMMARY)
                         if isinstance(config, dict) else config)
        sample: list[dict] = metrics[METRIC]
        count = int(sample[0][TOTAL]) if sample else 0
        success = count == 0
        if result_format == ResultFormat.BOOLEAN_ONLY:
            return {"success": success}
        result: dict[str, Any] = {"observed_value": count}
        if result_format == ResultFormat.COMPLETE:
            result["details"] = {"unexpected_rows": [
                {k: v for k, v in row.items() if k != TOTAL} for row in sample]}
        return {"success": success, "result": result}
