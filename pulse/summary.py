"""What is in the warehouse: rows per layer, quarantined lines by reason, the last gate."""

from __future__ import annotations

from dataclasses import dataclass, field

from pulse.config import settings
from pulse.warehouse import transaction

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
    # schema.relation -> why it is empty, for the empty ones Pulse can explain
    why_empty: dict[str, str] = field(default_factory=dict)

    def render(self, per_table: bool = True) -> str:
        """Everything; with per_table=False, one line per layer and the empty tables only
        (what `make demo` prints)."""
        s = settings()
        wh = s.warehouse()
        lines = ["", "Pulse warehouse", "==============="]
        if per_table:
            for name, count in self.rows.items():
                shown = "missing" if count is None else f"{count:>12,}"
                why = self.why_empty.get(name) if count == 0 else None
                lines.append(f"  {name:<44}{shown}" + (f"  {why}" if why else ""))
        else:
            lines += self._layer_lines()
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
        if not per_table:
            return "\n".join(lines)
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

    def _layer_lines(self) -> list[str]:
        lines = []
        for layer in LAYERS:
            counts = [n for name, n in self.rows.items() if name.split(".", 1)[0] == layer]
            if counts:
                total = sum(n or 0 for n in counts)
                tables = f"{len(counts)} table" + ("s" if len(counts) != 1 else "")
                lines.append(f"  {layer:<14}{tables:>10}{total:>14,} rows")
        empty = [(name, why) for name, why in self.why_empty.items() if self.rows.get(name) == 0]
        if empty:
            lines.append("  empty, and why:")
            lines += [f"    {name:<42}{why}" for name, why in empty]
        return lines


def _loaded_days(cur) -> int:
    """Days the snapshots cover: what training counts (pulse.ml.features.loaded_range)."""
    from pulse.ml.features import SNAPSHOTS

    cur.execute("select to_regclass(%s) is not null", (SNAPSHOTS,))
    if not cur.fetchone()[0]:
        return 0
    cur.execute(f"select max(snapshot_date) - min(snapshot_date) + 1 from {SNAPSHOTS}")
    return cur.fetchone()[0] or 0


def explain_empty(cur, rows: dict[str, int | None]) -> dict[str, str]:
    """Why each empty table Pulse knows about is empty, in words that say what fills it."""
    from pulse.ml.train import days_needed

    def empty(name: str) -> bool:
        return rows.get(name) == 0

    why: dict[str, str] = {}
    nothing_loaded = not rows.get("raw.events")
    if nothing_loaded:
        why["raw.events"] = "nothing loaded yet: run the nightly DAG (or `pulse load`)"
    if empty("raw.rejected_events"):
        why["raw.rejected_events"] = "no line was quarantined"
    if empty("intermediate.int_events_beyond_lookback"):
        why["intermediate.int_events_beyond_lookback"] = "no event arrived after its lookback"
    for name in rows:
        if (name.split(".", 1)[0] in ("staging", "intermediate", "marts", "snapshots")
                and empty(name) and nothing_loaded):
            why[name] = "nothing loaded yet"
    if empty("quality.gate_runs"):
        why["quality.gate_runs"] = "the quality gate has not run yet (nightly DAG or `pulse gate`)"

    days, needed = _loaded_days(cur), days_needed()
    if days < needed:
        no_model = f"no model yet: training needs {needed} loaded days, the warehouse has {days}"
    else:
        no_model = (f"no model yet: {days} loaded days are enough; run the pulse_train "
                    "DAG or `pulse ml train`")
    if empty("ml.model_registry"):
        why["ml.model_registry"] = no_model
    if empty("ml.ml_features"):
        why["ml.ml_features"] = no_model if empty("ml.model_registry") else (
            "no day scored yet: the nightly run scores its day with the model current on "
            "it (or `pulse ml score --day DAY`)")
    for mart in ("marts.ml_tenant_ltv", "marts.ml_prediction_accuracy"):
        if empty(mart) and not nothing_loaded:
            why[mart] = (why["ml.ml_features"] if empty("ml.ml_features")
                         else "built before the latest scores: the next dbt build reads them")

    if empty("ml.tenant_model_registry"):
        why["ml.tenant_model_registry"] = (
            "no tenant training yet: it needs labelled tenant days (the horizon, 60 days, "
            "after a snapshot); the pulse_train DAG or `pulse ml tenants train`")
    for name in ("ml.tenant_scores", "marts.ml_tenant_churn_scores"):
        if empty(name):
            why[name] = why.get("ml.tenant_model_registry") or (
                "no tenant day scored yet: the nightly run's score_tenants (or `pulse ml "
                "tenants score --day DAY`)")

    no_endpoints = "no endpoints registered: `pulse webhooks endpoints add TENANT URL`"
    for name in ("delivery.endpoints", "delivery.endpoint_secrets"):
        if empty(name):
            why[name] = no_endpoints
    if empty("delivery.messages"):
        why["delivery.messages"] = ("nothing announced yet: the nightly run's fill_outbox "
                                    "queues each day's announcements")
    if empty("delivery.outbox"):
        why["delivery.outbox"] = no_endpoints if empty("delivery.endpoints") else (
            "no message routed yet: the nightly run routes each day's announcements to "
            "the endpoints that subscribe")
    for name in ("delivery.attempts", "marts.webhook_delivery_performance"):
        if empty(name):
            why[name] = why.get("delivery.outbox") or (
                "no deliveries yet: the pulse_delivery DAG (or `pulse webhooks deliver`) "
                "sends what the outbox holds")
    return why


def collect() -> WarehouseSummary:
    rows: dict[str, int | None] = {}
    with transaction() as conn, conn.cursor() as cur:
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
        why_empty = explain_empty(cur, rows)
    return WarehouseSummary(rows, reasons, last, gate, gate_run, why_empty)
