"""Keeping the gate's results in quality.*: one row per suite run, one per expectation,
and the night's quarantine report. A re-run of the same run id replaces its rows."""

from __future__ import annotations

import json

from pulse import warehouse
from pulse.quality.results import SuiteResult
from pulse.quality.scope import Scope


def record(result: SuiteResult) -> None:
    """Replace this run's rows for the suite (a re-run of the same run replaces them)."""
    with warehouse.transaction() as conn, conn.cursor() as cur:
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


def record_quarantine_report(run_id: str, scope: Scope) -> int:
    """Lines not loaded as they arrived, of the batches in scope, by batch, reason and
    tenant: quarantined lines, and lines of unknown tenants held, admitted tonight or
    quarantined tonight once their grace period ended (docs/loading.md)."""
    with warehouse.transaction() as conn, conn.cursor() as cur:
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
