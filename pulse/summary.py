"""What is in the warehouse: rows per layer, quarantined lines by reason, the last gate."""

from __future__ import annotations

from dataclasses import dataclass, field

from pulse.config import settings
from pulse.warehouse import connect

# The layers in pipeline order; every table and view in them is counted.
LAYERS = ("raw", "staging", "intermediate", "marts", "snapshots", "quality", "ml", "delivery")


@dataclass
class WarehouseSummary:
    rows: dict[str, int | None]  # schema.relation -> rows
    rejected_by_reason: dict[str, int]
    last_loaded_day: str | None
    # The latest quality gate: (suite, success, expectations, critical failures, warnings)
    gate: list[tuple[str, bool, int, int, int]] = field(default_factory=list)
    gate_run: str | None = None

    def render(self) -> str:
        s = settings()
        wh = s.warehouse()
        lines = ["", "Pulse warehouse", "==============="]
        for name, count in self.rows.items():
            shown = "missing" if count is None else f"{count:>12,}"
            lines.append(f"  {name:<44}{shown}")
        lines.append("")
        if self.rejected_by_reason:
            lines.append("Quarantined lines by reason (raw.rejected_events):")
            for reason, n in sorted(self.rejected_by_reason.items(), key=lambda kv: -kv[1]):
                lines.append(f"  {reason:<44}{n:>12,}")
        else:
            lines.append("Quarantined lines: none")
        if self.last_loaded_day:
            lines.append(f"Loaded through: {self.last_loaded_day}")
        if self.gate:
            lines += ["", f"Quality gate (Great Expectations), run {self.gate_run}:"]
            for suite, ok, n, critical, warnings in self.gate:
                verdict = "passed" if ok else "FAILED"
                lines.append(f"  {suite:<10}{verdict:<8}{n:>4} expectations, "
                             f"{critical} critical failure(s), {warnings} warning(s)")
            lines.append(f"  results: quality.check_results; Data Docs: "
                         f"{s.data_dir / 'quality' / 'data_docs' / 'index.html'}")
        psql = f"psql -h {wh.host} -p {wh.port} -U {wh.user} {wh.dbname}"
        lines += [
            "",
            "Where to look next:",
            f"  SQL:         .venv/bin/pulse warehouse psql      (or: {psql})",
            "               e.g. select * from marts.daily_active_users order by 2 desc limit 20;",
            "  dbt docs:    make docs   then open http://127.0.0.1:8081",
            "  Airflow UI:  make airflow-ui   then open http://127.0.0.1:8080",
            "  dbt by hand: cd dbt_project && ../.venv/bin/dbt build",
        ]
        return "\n".join(lines)


def collect() -> WarehouseSummary:
    rows: dict[str, int | None] = {}
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "select table_schema, table_name from information_schema.tables"
                " where table_schema = any(%s) order by array_position(%s, table_schema::text),"
                " table_name",
                (list(LAYERS), list(LAYERS)),
            )
            for schema, rel in cur.fetchall():
                cur.execute(f'select count(*) from "{schema}"."{rel}"')
                rows[f"{schema}.{rel}"] = cur.fetchone()[0]
            reasons: dict[str, int] = {}
            if rows.get("raw.rejected_events") is not None:
                cur.execute(
                    "select reason_code, count(*) from raw.rejected_events group by 1"
                )
                reasons = dict(cur.fetchall())
            if rows.get("raw.held_events") is not None:
                # Not quarantined, but not loaded as they arrived either (docs/loading.md).
                cur.execute("select status, count(*) from raw.held_events"
                            " where status <> 'expired' group by 1")
                reasons.update({f"{status}_unknown_tenant (raw.held_events)": n
                                for status, n in cur.fetchall()})
            last = None
            if rows.get("raw.load_ledger") is not None:
                cur.execute(
                    "select max(partition_date) from raw.load_ledger where status = 'loaded'"
                )
                value = cur.fetchone()[0]
                last = value.isoformat() if value else None
            gate: list[tuple[str, bool, int, int, int]] = []
            gate_run = None
            cur.execute("select to_regclass('quality.gate_runs') is not null")
            if cur.fetchone()[0]:
                cur.execute("select run_id from quality.gate_runs"
                            " order by finished_at desc limit 1")
                found = cur.fetchone()
                if found:
                    gate_run = found[0]
                    cur.execute("select suite, success, expectations, critical_failures,"
                                " warnings from quality.gate_runs where run_id = %s"
                                " order by started_at", (gate_run,))
                    gate = cur.fetchall()
    finally:
        conn.close()
    return WarehouseSummary(rows, reasons, last, gate, gate_run)
