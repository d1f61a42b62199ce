"""`python -m bench --only dashboards`: every dashboard card's query, p50/p95 per card.

On the whole data set loaded, built, gated and scored (as a night would leave it), each
card runs as `pulse_analyst` REPEAT times unfiltered and REPEAT times filtered to one
tenant and the last 30 days. Target (docs/dashboards.md): p95 under 200 ms per card.
The webhook cards read no deliveries here (nothing is sent), so they time empty queries.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from pathlib import Path

from bench.warehouse import load_and_build

REPEAT = 20
TARGET_P95_MS = 200.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_dashboards(landing: Path, tally: dict, reset, dbt) -> dict:
    from pulse.dashboards import load_dashboards
    from pulse.dashboards.run import Filters, analyst_session, run_card
    from pulse.ml import tenant, tenant_score
    from pulse.ml.score import score_day
    from pulse.ml.train import train
    from pulse.quality import gate, suites
    from pulse.warehouse import connect

    print("\n== dashboards: every card's query as pulse_analyst ==", flush=True)
    last, _build = load_and_build(landing, tally, reset, dbt)
    gate.run([*suites.AFTER_LOAD, *suites.AFTER_DBT], last, f"bench__{last}",
             log_line=lambda _m: None)
    try:
        train(as_of=last)
        score_day(last)
        tenant.train(as_of=last)
        tenant_score.score_day(last)
        dbt("build", "--select", "marts.ml")
    except Exception as exc:  # a data set too short to train still times every other card
        print(f"  no scores ({exc}); the ML cards time empty queries", flush=True)

    conn = connect()
    with conn, conn.cursor() as cur:
        cur.execute("select tenant_id from marts.tenant_health_scores "
                    "order by mau desc nulls last limit 1")
        tenant = cur.fetchone()[0]
    conn.close()
    filtered = Filters(tenant_id=tenant, date_from=last - timedelta(days=29), date_to=last)
    cards = [c for d in load_dashboards() for c in d.cards]
    rows = {}
    with analyst_session() as cur:
        for card in cards:
            for label, filters in (("all", Filters()), ("tenant_30d", filtered)):
                run_card(cur, card, filters)  # warm the cache once
                times = []
                for _ in range(REPEAT):
                    t = time.perf_counter()
                    result = run_card(cur, card, filters)
                    times.append((time.perf_counter() - t) * 1000)
                key = f"{card.dashboard}/{card.id}/{label}"
                rows[key] = {"p50_ms": statistics.median(times),
                             "p95_ms": _percentile(times, 0.95), "rows": len(result.rows),
                             "error": result.error}
                flag = "" if rows[key]["p95_ms"] < TARGET_P95_MS else "  OVER TARGET"
                print(f"  {key:<62} p50 {rows[key]['p50_ms']:7.1f} ms  p95 "
                      f"{rows[key]['p95_ms']:7.1f} ms  {len(result.rows):>5} rows{flag}",
                      flush=True)
    over = [k for k, v in rows.items() if v["p95_ms"] >= TARGET_P95_MS]
    print(f"  {len(rows) - len(over)} of {len(rows)} card runs under the p95 target of "
          f"{TARGET_P95_MS:.0f} ms" + (f"; over: {', '.join(over)}" if over else ""))
    return {"cards": rows, "target_p95_ms": TARGET_P95_MS, "over_target": over}
