"""`pulse ml report`: per model kind, the latest model against its baselines (docs/evaluation.md).

Reads only ml.model_registry: the figures were computed once, at training, on the rows the
gate judged; the report never recomputes them.
"""

from __future__ import annotations

from pulse import warehouse
from pulse.ml import registry

COLUMNS = ("model_version", "model_kind", "status", "status_reason", "is_current",
           "data_through", "trained_at", "evaluation", "environment",
           "training_fingerprint", "artifact_path")


def any_rows() -> bool:
    from pulse.ml import tenant

    return registry.any_model() or tenant.any_training()


def _rows(version: str | None) -> list[dict]:
    where, params = (("model_version = %s", (version,)) if version else (
        # the latest trained model of each kind (the baseline row is its companion)
        """model_version in (select distinct on (model_kind) model_version
                             from ml.model_registry where status <> 'baseline'
                             order by model_kind, trained_at desc, data_through desc)""", ()))
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute(f"select {', '.join(COLUMNS)} from ml.model_registry where {where} "
                    "order by model_kind", params)
        rows = [dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()]
        cur.execute("select model_kind, model_version from ml.model_registry where is_current")
        serving = dict(cur.fetchall())
    if version and not rows:
        registry.info(version)  # raises the one-line "not in ml.model_registry" error
    for row in rows:
        row["serving"] = serving.get(row["model_kind"])
    return rows


def build(version: str | None = None) -> dict:
    """The report as plain JSON: {"models": [...]}, one entry per model kind."""
    models = []
    for row in _rows(version):
        ev = row["evaluation"] or {}
        validation = ev.get("validation") or {}
        models.append({
            "model_kind": row["model_kind"],
            "model_version": row["model_version"],
            "status": row["status"],
            "reason": row["status_reason"],
            "is_current": row["is_current"],
            "serving": row["serving"],
            "data_through": row["data_through"].isoformat(),
            "trained_at": row["trained_at"].isoformat(),
            "gate": ev.get("gate"),
            "validation": validation or None,
            "slice_active_last_7_days": ev.get("slice_active_last_7_days"),
            "lead_time": ev.get("lead_time"),
            "backtest": ev.get("backtest"),
            "refit": ev.get("refit"),
            "environment": row["environment"],
            "training_fingerprint": row["training_fingerprint"],
            "artifact_path": row["artifact_path"],
        })
    if version is None:
        from pulse.ml import tenant

        latest = tenant.report()[:1]
        models += [tenant.report_entry(r) for r in latest]
    return {"models": models}


def _table(title: str, e: dict | None) -> list[str]:
    if not e:
        return [f"  {title}: not evaluated (one class only, or recorded before evaluation)"]
    lines = [f"  {title}: {e['rows']:,} rows, {e['groups']:,} users, churn rate "
             f"{e['base_rate']:.1%}, {e['n_boot']} group bootstrap resamples",
             f"    {'':18} {'ROC AUC':>8} {'95% CI':>15} {'PR AUC':>8} {'95% CI':>15}"]
    for name, s in e["scorers"].items():
        lines.append(f"    {name:18} {s['roc_auc']:8.3f} {_ci(s['roc_auc_ci']):>15} "
                     f"{s['pr_auc']:8.3f} {_ci(s['pr_auc_ci']):>15}")
    d = e["auc_difference"]
    lines.append(f"    model - {d['vs']}: {d['roc_auc']:+.3f} {_ci(d['roc_auc_ci'], True)}")
    return lines


def _ci(ci: list[float] | None, signed: bool = False) -> str:
    if not ci:
        return "-"
    return f"{ci[0]:+.3f}..{ci[1]:+.3f}" if signed else f"{ci[0]:.3f}..{ci[1]:.3f}"


def text(doc: dict) -> str:
    lines: list[str] = []
    for m in doc["models"]:
        if m["model_kind"] == "tenant_churn":
            from pulse.ml import tenant

            lines.append(tenant.describe(m["model_version"], m["metrics"]))
            continue
        lines += [f"{m['model_kind']}: {m['model_version']} (data through {m['data_through']})"
                  f" {m['status'].upper()}", f"  {m['reason']}",
                  f"  serving: {m['serving']}"]
        lines += _table("validation", m["validation"])
        lines += _table("users active in the last 7 days", m["slice_active_last_7_days"])
        for name, lt in (m["lead_time"] or {}).items():
            if lt.get("median_days") is None:
                lines.append(f"  lead time {name}: no churned user flagged "
                             f"({lt['churned']} churned)")
                continue
            lines.append(f"  lead time {name}: {lt['flagged']}/{lt['churned']} churned users "
                         f"flagged above {lt['threshold']}, median {lt['median_days']:+.0f} "
                         f"days before the churn (IQR {lt['p25_days']:+.0f}.."
                         f"{lt['p75_days']:+.0f})")
        bt = m["backtest"] or {}
        if bt:
            lines.append(f"  backtest: model beats the best baseline at {bt['model_wins']} of "
                         f"{bt['evaluated']} origins (mean difference {bt['mean_difference']})")
            for o in bt["origins"]:
                if "difference" in o:
                    lines.append(f"    origin {o['origin']} (train to {o['train_end']}): "
                                 + ", ".join(f"{k} {v:.3f}" for k, v in o["roc_auc"].items()))
                else:
                    lines.append(f"    origin {o['origin']}: skipped, {o['skipped']}")
        env = m["environment"] or {}
        if env:
            lines.append("  built with " + ", ".join(f"{k} {v}" for k, v in env.items())
                         + f"; training data {str(m['training_fingerprint'])[:16]}")
    return "\n".join(lines)
