"""The privacy section of `make bench` (`python -m bench --only privacy`): the time to
erase one user and one tenant from a built warehouse, next to the dbt build of the same
data, and the loader's throughput while erased subjects are being suppressed.

The user is the one with the most events, the tenant the one with the most events: the
worst cases of the data set.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

from pulse import loader, migrate, warehouse


def _one(sql: str) -> tuple:
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()


def bench_privacy(landing: Path, tally: dict, reset, dbt) -> dict:
    from pulse.privacy.erasure import Subject, erase, traces

    print("\n== privacy: erasing one user and one tenant, vs the dbt build ==", flush=True)
    start = date.fromisoformat(tally["params"]["start"])
    last = start + timedelta(days=int(tally["params"]["days"]) - 1)
    reset()
    migrate.apply(log=lambda _m: None)
    t = time.perf_counter()
    report = loader.load(landing, through=last)
    load_s = time.perf_counter() - t
    events = report.rows_loaded
    build = dbt("build", "--full-refresh")
    print(f"  load {load_s:.1f}s; dbt build --full-refresh: {build['seconds']:.1f}s", flush=True)

    tenant, user, user_events = _one(
        "select tenant_id, user_id, count(*) from staging.stg_pulse__events"
        " group by 1, 2 order by 3 desc, 2 limit 1")
    t = time.perf_counter()
    user_outcome = erase(Subject(tenant, user))
    user_s = time.perf_counter() - t
    t = time.perf_counter()
    assert traces(Subject(tenant, user)) == {}
    verify_s = time.perf_counter() - t
    print(f"  erase one user ({user_events:,} events, "
          f"{sum(user_outcome.counts.values()):,} rows): {user_s:.1f}s; verify {verify_s:.1f}s")

    big_tenant, tenant_events = _one(
        "select tenant_id, count(*) from staging.stg_pulse__events"
        " group by 1 order by 2 desc limit 1")
    t = time.perf_counter()
    tenant_outcome = erase(Subject(big_tenant))
    tenant_s = time.perf_counter() - t
    print(f"  erase one tenant ({tenant_events:,} events, "
          f"{sum(tenant_outcome.counts.values()):,} rows): {tenant_s:.1f}s")

    # the loader with two erased subjects to suppress, against its run before
    reset_raw = ("truncate raw.load_ledger, raw.events, raw.accounts, raw.rejected_events")
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute(reset_raw)
    t = time.perf_counter()
    suppressed_report = loader.load(landing, through=last)
    suppressed_load_s = time.perf_counter() - t
    ratio_user = user_s / build["seconds"]
    ratio_tenant = tenant_s / build["seconds"]
    print(f"  ratio erase user / full build = {ratio_user:.2f}; erase tenant / full build = "
          f"{ratio_tenant:.2f}; loader with suppression {suppressed_load_s:.1f}s vs "
          f"{load_s:.1f}s without ({suppressed_report.rows_loaded:,} of {events:,} rows)")
    return {"events": events, "full_build_s": build["seconds"],
            "erase_user_s": user_s, "erase_user_events": user_events,
            "verify_user_s": verify_s, "erase_tenant_s": tenant_s,
            "erase_tenant_events": tenant_events,
            "ratio_erase_user_vs_full_build": ratio_user,
            "ratio_erase_tenant_vs_full_build": ratio_tenant,
            "load_s": load_s, "load_with_suppression_s": suppressed_load_s}
