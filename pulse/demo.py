"""`make demo`: warehouse up, deterministic data, one nightly run, a summary.

One `airflow dags test` run for the last generated day picks up every landing file not
yet loaded, so the demo is one run, not one per day. Run twice, it leaves the same
warehouse: the generator rewrites identical bytes, the loader skips files already in its
ledger, and the dbt models upsert on their keys.
"""

from __future__ import annotations

import json
import time
from datetime import date

from pulse import summary, warehouse
from pulse.airflow_env import run_airflow
from pulse.config import settings
from pulse.orchestration import DAG_ID


def _step(n: int, total: int, text: str) -> float:
    print(f"\n[{n}/{total}] {text}", flush=True)
    return time.monotonic()


def _done(started: float) -> None:
    print(f"      done in {time.monotonic() - started:.1f}s", flush=True)


def last_landing_day(tally: dict) -> date:
    params = tally["params"]
    start = date.fromisoformat(params["start"])
    return date.fromordinal(start.toordinal() + int(params["days"]) - 1)


def run_demo(seed: int = 42, size: str = "demo", dirty: float = 0.01) -> int:
    from generators import generate, size_params

    s = settings()
    total = 5
    t = _step(1, total, "Starting the warehouse")
    warehouse.up(s)
    print("      " + warehouse.status(s))
    _done(t)

    t = _step(2, total, f"Generating the {size} data set (seed {seed}, dirty {dirty:.0%}) "
                        f"into {s.landing_dir}")
    tally = generate(s.landing_dir, seed=seed, dirty=dirty, progress=True, **size_params(size))
    print(f"      {tally['valid_lines']:,} valid lines, "
          f"{sum(tally['faults'].values()):,} faulty, {tally['duplicates']:,} resent, "
          f"{tally['late']:,} late")
    _done(t)

    t = _step(3, total, "Preparing Airflow's metadata database (airflow db migrate)")
    proc = run_airflow(["db", "migrate"], check=False, quiet=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:] + proc.stderr[-3000:])
        print("airflow db migrate failed; see the output above.")
        return proc.returncode
    _done(t)

    day = last_landing_day(tally)
    t = _step(4, total, f"Running the nightly DAG for {day} with `airflow dags test` "
                        "(loads every landing file not loaded yet, then dbt)")
    proc = run_airflow(["dags", "test", DAG_ID, day.isoformat()], check=False)
    if proc.returncode != 0:
        print(f"\nThe nightly run failed (exit {proc.returncode}). The failing task's log is "
              f"above; Airflow keeps all logs under {s.airflow_home / 'logs'}.")
        return proc.returncode
    _done(t)

    _step(5, total, "What was built")
    print(summary.collect().render())
    (s.home / "last_demo.json").write_text(json.dumps(
        {"seed": seed, "size": size, "dirty": dirty, "day": day.isoformat()}, indent=2))
    return 0
