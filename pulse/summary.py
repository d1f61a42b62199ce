"""What is in the warehouse: rows per layer and quarantined lines by reason."""

from __future__ import annotations

from dataclasses import dataclass

from pulse.config import settings
from pulse.warehouse import connect

# The layers in pipeline order; every table and view in them is counted.
LAYERS = ("raw", "staging", "intermediate", "marts", "snapshots")


@dataclass
class WarehouseSummary:
    rows: dict[str, int | None]  # schema.relation -> rows
    rejected_by_reason: dict[str, int]
    last_loaded_day: str | None

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
            last = None
            if rows.get("raw.load_ledger") is not None:
                cur.execute(
                    "select max(partition_date) from raw.load_ledger where status = 'loaded'"
                )
                value = cur.fetchone()[0]
                last = value.isoformat() if value else None
    finally:
        conn.close()
    return WarehouseSummary(rows, reasons, last)
