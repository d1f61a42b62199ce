"""`make bench`: Pulse's speed as ratios against baselines run in the same process.

Runs against its own database, `pulse_bench` on the local cluster. With WAREHOUSE_URL
set it uses that database as it is, and drops Pulse's schemas in it: point it at a
scratch database.

    python -m bench [--size peer|demo|tiny|xl] [--seed N] [--noise [F]] [--repeat 2] [--scale 0.05]
                    [--only loader|dbt|gate|ml|webhooks|privacy|dashboards|xl]

results.json: each section's figures under "sections", with the data set they were
measured on; an --only run replaces its own section and keeps the others'. The headline
figures sit at the top level under stable keys (HEADLINE below), with the machine.

ML quality: every `ml` run also files the models' validation metrics under
results.json's "ml_quality", keyed by data set ("demo-seed42-clean", "peer-seed42-noise1",
"peer-seed7-clean", ...), kept across runs on other data sets, so the clean, the noisy
(`--noise`, generators/noise.py) and an unseen seed (`--seed`) sit side by side.

Loader: the loader's events/s against a bare COPY of the same lines into a bare JSONB
table (decompressed and escaped the same way, no validation, no typed columns), one file
at a time (target >= 0.8) and with one job per core (target >= 1.2 of the same
single-stream COPY).

dbt: `dbt build --full-refresh` of the whole data set, and the nightly increment (load
one new day, `dbt build`): day 30 on top of 29 days of history, and the last day (180 on
`peer`) on top of all the others, both real days of the same data set. The increment
should cost what the new day costs, not what the history costs: the target is
incr180 / incr30 <= 1.5, each increment the fastest of three nights, the two increments
alternating, each night from a copy of the warehouse taken before its new day (the
medians' ratio is printed beside it). Each build is the nightly run's: planned first,
and skipped when nothing changed since the last one (pulse/build_plan.py). A night with nothing new
to load is timed too; target: under a third of the last day's increment. So is dbt's own
build with nothing new, which the plan spares such a night: the part of the nightly cost
that does not depend on the new day (dbt's start, tests, marts rebuilt whole).
results.json also holds the two ratios as `increment_ratio_180_30` and
`empty_build_vs_increment`.

Gate: the quality gate (every suite of expectations/) on the whole data set loaded by one
run, against `dbt build --full-refresh` of the same data; and the gate of a nightly run
(the last day's batches) against the nightly increment's build. Target gate/build < 0.25.

Privacy: the time to erase the busiest user and the busiest tenant from the built data
set, next to its full dbt build, and the loader's time with erased subjects to suppress
(bench/privacy.py).

Webhooks: deliveries/s of `pulse.webhooks.deliver` (1,000 messages, 50 endpoints, a local
receiver that answers at once) next to a plain loop of unsigned requests (bench/webhooks.py).

xl (`--size xl` or `--only xl`): one month of 200 tenants with an Enterprise tenant at its
10 M events/month limit, each stage (generation, load, dbt build, gate, scoring, the
night's increment) in a child process with its wall time and peak RSS (bench/xl.py).

Dashboards: every card of dashboards/ as pulse_analyst, p50/p95 per card, unfiltered and
for one tenant's last 30 days (bench/dashboards.py; target p95 < 200 ms).

Over 300 lines on purpose: the sections that time Pulse's own core (loader, dbt, gate)
and their baselines live here with the runner; the ML, privacy, webhooks, dashboards and
xl sections are modules of their own.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

if not os.environ.get("WAREHOUSE_URL"):
    os.environ.setdefault("PULSE_WAREHOUSE_DB", "pulse_bench")

from bench.results import merge_results
from pulse import build_plan, cliargs, cluster, loader, migrate, warehouse
from pulse.config import settings
from pulse.orchestration import dbt_binary, dbt_env

SCHEMAS = ("raw", "staging", "intermediate", "marts", "reference", "analytics", "snapshots",
           "bench", "delivery", "quality", "ml", "privacy")


def _reset() -> None:
    conn = warehouse.connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        for schema in SCHEMAS:
            cur.execute(f'drop schema if exists "{schema}" cascade')
    conn.close()


def dataset_key(size: str, seed: int, noise: float) -> str:
    """The data set's name: its folder under the bench folder and its ml_quality key."""
    return f"{size}-seed{seed}-" + (f"noise{noise:g}" if noise else "clean")


def _dataset(size: str, seed: int, noise: float = 0.0) -> tuple[Path, dict]:
    from generators import generate, size_params

    out = settings().data_dir / "bench" / (
        f"{size}-{seed}" if not noise else dataset_key(size, seed, noise))
    tally_path = out / "_tally.json"
    if tally_path.exists():
        tally = json.loads(tally_path.read_text())
        print(f"data set: {out} (reused; {tally['valid_lines']:,} valid lines)")
        return out, tally
    print(f"generating the {size} data set into {out} ...", flush=True)
    started = time.perf_counter()
    tally = generate(out, seed=seed, dirty=0.01, noise=noise, progress=True,
                     **size_params(size))
    print(f"generated {tally['valid_lines']:,} valid lines in "
          f"{time.perf_counter() - started:.1f}s")
    return out, tally


def _bare_copy(landing: Path) -> tuple[int, float]:
    """The floor: COPY every line of every event file into (payload jsonb), nothing else.
    Invalid lines are skipped by a cheap check the real loader also has to make, so both
    sides load the same rows."""
    files = sorted((landing / "events").glob("dt=*/*.ndjson.gz"))
    valid = _valid_line_numbers(files)
    # The loader's tables go first: autovacuum would otherwise vacuum and analyze its
    # million rows on the other core while this leg is timed.
    _reset()
    conn = warehouse.connect()
    with conn, conn.cursor() as cur:
        cur.execute("create schema bench")
        cur.execute("create table bench.bare_events (payload jsonb not null)")
    rows = 0
    _settle()
    started = time.perf_counter()
    for path in files:
        keep = valid[path]

        def chunks(path: Path = path, keep: set[int] = keep) -> Iterator[bytes]:
            batch: list[bytes] = []
            with gzip.open(path, "rb") as fh:
                for n, line in enumerate(fh, start=1):
                    if n not in keep:
                        continue
                    line = line.rstrip(b"\r\n")
                    if b"\\" in line:
                        line = line.replace(b"\\", b"\\\\")
                    batch.append(line + b"\n")
                    if len(batch) >= loader.COPY_CHUNK_LINES:
                        yield b"".join(batch)
                        batch = []
            if batch:
                yield b"".join(batch)

        with conn, conn.cursor() as cur:
            cur.copy_expert("copy bench.bare_events (payload) from stdin",
                            loader._ChunkReader(chunks()), size=1 << 18)
        rows += len(keep)
    elapsed = time.perf_counter() - started
    conn.close()
    return rows, elapsed


def _valid_line_numbers(files: list[Path]) -> dict[Path, set[int]]:
    """Which lines the loader accepts, read back from its own quarantine and holds so the
    baseline copies exactly the rows the loader loaded (computed before timing either side)."""
    conn = warehouse.connect()
    with conn, conn.cursor() as cur:
        cur.execute("select file_path, line_number from raw.rejected_events union"
                    " select file_path, line_number from raw.held_events")
        rejected: dict[str, set[int]] = {}
        for rel, n in cur.fetchall():
            rejected.setdefault(rel, set()).add(n)
    conn.close()
    landing = files[0].parents[2]
    out: dict[Path, set[int]] = {}
    for path in files:
        with gzip.open(path, "rb") as fh:
            total = sum(1 for _ in fh)
        bad = rejected.get(path.relative_to(landing).as_posix(), set())
        out[path] = {n for n in range(1, total + 1) if n not in bad}
    return out


def _settle() -> None:
    """Each timed leg starts with nothing left to write: the legs before it leave gigabytes
    of dirty pages, and whichever leg the checkpoint or the kernel's write-back lands on
    loses seconds to it (the bare COPY, timed last, took 15.0 s in one run and 27.6 s in
    another of the same code). Skipped on a server where the role may not checkpoint."""
    import psycopg2

    os.sync()
    conn = warehouse.connect()
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("checkpoint")
    except psycopg2.Error:
        pass
    finally:
        conn.close()
    os.sync()


def _pulse_load(landing: Path, jobs: int) -> tuple[int, float]:
    _reset()
    migrate.apply(log=lambda _m: None)
    _settle()
    started = time.perf_counter()
    report = loader.load(landing, jobs=jobs)
    elapsed = time.perf_counter() - started
    events = sum(f.rows_loaded for f in report.files if f.file.kind == "events")
    return events, elapsed


def bench_loader(landing: Path, repeat: int) -> dict:
    """The loader one file at a time and `cores` files side by side, each against the same
    single-stream bare COPY (targets: >= 0.8 and >= 1.2 of it; best against best)."""
    print("\n== loader: Pulse's loader vs a bare COPY into a JSONB table ==", flush=True)
    cores = os.cpu_count() or 1
    best: dict[str, float] = {}
    n = 0
    for i in range(repeat):
        for label, jobs in (("loader", 1), (f"loader x{cores}", cores)):
            n, t = _pulse_load(landing, jobs)
            print(f"  run {i + 1}: {label:<11} {n:>10,} events in {t:7.2f}s = "
                  f"{n / t:>10,.0f} ev/s", flush=True)
            best[label] = min(best.get(label, t), t)
        m, u = _bare_copy(landing)
        print(f"  run {i + 1}: bare COPY   {m:>10,} rows   in {u:7.2f}s = {m / u:>10,.0f} rows/s",
              flush=True)
        best["bare"] = min(best.get("bare", u), u)
        assert m == n, f"baseline copied {m} rows, loader {n}"
    single = best["bare"] / best["loader"]
    parallel = best["bare"] / best[f"loader x{cores}"]
    print(f"  loader throughput = {n / best['loader']:,.0f} events/s one file at a time, "
          f"{n / best[f'loader x{cores}']:,.0f} with {cores} jobs; "
          f"bare COPY = {n / best['bare']:,.0f} rows/s")
    print(f"  ratio loader / bare COPY = {single:.2f}   (target >= 0.80)")
    print(f"  ratio loader x{cores} / bare COPY = {parallel:.2f}   (target >= 1.20)")
    return {"events": n, "loader_s": best["loader"], "bare_copy_s": best["bare"],
            "loader_parallel_s": best[f"loader x{cores}"], "jobs": cores,
            "loader_events_per_s": n / best["loader"], "ratio_vs_bare_copy": single,
            "ratio_parallel_vs_bare_copy": parallel}


# --- dbt ------------------------------------------------------------------------------

INCREMENT_TARGET = 1.5  # incr(last day on all the others) / incr(day 30 on 29 days)
EMPTY_BUILD_TARGET = 1 / 3  # build with nothing new / the nightly increment (last day)
INCREMENT_RUNS = 3  # each increment's fastest of this many nights counts (bench_dbt)


class DbtFailed(RuntimeError):
    pass


def _dbt(*args: str) -> dict:
    """Run dbt as the nightly run would (a subprocess with Pulse's profile variables),
    with its own target and log folders so the bench never touches dbt_project/target.
    Returns the wall time and, from run_results.json, where the time went."""
    work = settings().data_dir / "bench" / "dbt"
    target, logs = work / "target", work / "logs"
    cmd = [dbt_binary(), *args, "--target-path", str(target),
           "--log-path", str(logs)]
    if args[0] == "build":
        # Unit tests check SQL logic on fixed fixtures (CI's job); their cost does not
        # depend on the data, and dbt advises against running them in production builds.
        cmd += ["--exclude-resource-type", "unit_test"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=settings().dbt_project_dir, env=dict(os.environ, **dbt_env()),
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise DbtFailed(f"dbt {' '.join(args)} exited {proc.returncode}:\n"
                        f"{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    results = json.loads((target / "run_results.json").read_text())["results"]
    per_node = {r["unique_id"]: r["execution_time"] for r in results}
    models = {k: v for k, v in per_node.items() if k.startswith(("model.", "seed.",
                                                                  "snapshot."))}
    tests = {k: v for k, v in per_node.items() if k.startswith("test.")}
    slowest = sorted(per_node.items(), key=lambda kv: -kv[1])[:5]
    return {
        "seconds": elapsed,
        "nodes": len(per_node),
        "models_s": sum(models.values()),  # summed over threads, so it can exceed seconds
        "tests_s": sum(tests.values()),
        "slowest": {k.split(".")[2]: round(v, 2) for k, v in slowest},  # type.package.name
        "per_node_s": {k: round(v, 3) for k, v in sorted(per_node.items())},
    }


def _load_through(landing: Path, day: date) -> int:
    report = loader.load(landing, through=day)
    if report.problems:
        raise RuntimeError(report.summary())
    return sum(f.rows_loaded for f in report.files if f.file.kind == "events")


def _show(label: str, run: dict) -> None:
    slowest = ", ".join(f"{k} {v:.1f}s" for k, v in run["slowest"].items())
    print(f"  {label:<34} {run['seconds']:7.1f}s   ({run['nodes']} nodes; summed: models "
          f"{run['models_s']:.1f}s, tests {run['tests_s']:.1f}s; slowest: {slowest})",
          flush=True)


def _night_build() -> dict:
    """The nightly run's build: planned first, skipped when nothing changed since the last
    one that succeeded, recorded when it succeeds (pulse/build_plan.py, the DAG's
    plan_build and record_build tasks). Its seconds include the plan's."""
    started = time.perf_counter()
    planned = build_plan.plan()
    if not planned.build:
        return {"seconds": time.perf_counter() - started, "skipped": True,
                "reason": planned.reason, "nodes": 0, "models_s": 0.0, "tests_s": 0.0,
                "slowest": {}, "per_node_s": {}}
    run = _dbt("build")
    build_plan.record(planned.build_id)
    return {**run, "seconds": time.perf_counter() - started, "skipped": False,
            "reason": planned.reason}


@contextlib.contextmanager
def _server_cursor() -> Iterator:
    """A cursor on the warehouse's server outside any transaction: databases are created
    and dropped there."""
    import psycopg2

    conn = psycopg2.connect(settings().warehouse().with_db("postgres").dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def _drop_database(cur, name: str) -> None:
    from psycopg2 import sql

    cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _copy_database(source: str, target: str) -> None:
    """`target` replaced by a file copy of `source` on the same server (no session may be
    connected to either: the bench's own connections are all closed between steps)."""
    from psycopg2 import sql

    with _server_cursor() as cur:
        _drop_database(cur, target)
        # FILE_COPY: a checkpoint and a copy of the files, much faster than WAL-logging
        # every block of a warehouse of gigabytes (PostgreSQL 15's default).
        strategy = " strategy file_copy" if cur.connection.server_version >= 150000 else ""
        cur.execute(sql.SQL("create database {} template {}" + strategy).format(
            sql.Identifier(target), sql.Identifier(source)))


def _history(landing: Path, start: date, history_days: int) -> dict:
    """A warehouse of `history_days` days, built as the nightly runs would leave it; then
    a night with nothing new (the plan skips the build) and dbt's own build with nothing
    new (its fixed cost)."""
    _reset()
    migrate.apply(log=lambda _m: None)
    t = time.perf_counter()
    history_events = _load_through(landing, start + timedelta(days=history_days - 1))
    load_s = time.perf_counter() - t
    print(f"  history: {history_days} days, {history_events:,} events loaded in {load_s:.1f}s",
          flush=True)
    history = _night_build()
    _show(f"build of the {history_days}-day history", history)
    noop = _night_build()
    print(f"  {'night with nothing new':<34} {noop['seconds']:7.2f}s   (build "
          f"{'skipped' if noop['skipped'] else 'run'}: {noop['reason']})", flush=True)
    dbt_noop = _dbt("build")
    _show("dbt build with nothing new", dbt_noop)
    return {"history_days": history_days, "history_events": history_events,
            "new_day": (start + timedelta(days=history_days)).isoformat(),
            "history_build": history, "noop_build": noop, "dbt_noop_build": dbt_noop}


def _night(landing: Path, history: dict, copy: str | None, label: str) -> dict:
    """The nightly increment on `history`: its new day loaded, then the night's build;
    from a fresh copy of the warehouse as it stood before that day when there is one."""
    if copy:
        _copy_database(copy, settings().warehouse().dbname)
    new_day = date.fromisoformat(history["new_day"])
    t = time.perf_counter()
    new_events = _load_through(landing, new_day)
    load_s = time.perf_counter() - t
    build = _night_build()
    _show(f"{label}: {new_day} ({new_events:,} events)", build)
    return {"new_day_events": new_events, "load_new_day_s": load_s, "build": build}


def _increment(history: dict, nights: list[dict]) -> dict:
    """A history with its timed nights: the fastest counts, the median beside it."""
    fastest = min(nights, key=lambda n: n["build"]["seconds"])
    seconds = sorted(n["build"]["seconds"] for n in nights)
    return {**history, "new_day_events": fastest["new_day_events"],
            "load_new_day_s": fastest["load_new_day_s"], "increment_build": fastest["build"],
            "increment_runs_s": [round(n["build"]["seconds"], 2) for n in nights],
            "increment_median_s": seconds[len(seconds) // 2]}


def bench_dbt(landing: Path, tally: dict) -> dict:
    """The two increments are timed INCREMENT_RUNS times each, alternating, each night
    from a copy of the warehouse taken before its new day, and the fastest of each
    counts: one run of a 30 s build moves by +-15% on a shared 2-core machine, and the
    machine can be slower for minutes at a time, so one side timed after the other can
    fall in a slower spell. Every night starts from a fresh copy (the first too), so all
    start alike. Where the bench may not create databases: one night each, one after
    the other."""
    import psycopg2

    start = date.fromisoformat(tally["params"]["start"])
    days = int(tally["params"]["days"])
    short = min(30, days) - 1
    database = settings().warehouse().dbname
    copies = {side: f"{database}_before_{side}_increment" for side in ("long", "short")}
    print("\n== dbt: full build, and the nightly increment on a short and a long history ==",
          flush=True)
    print(f"-- {days - 1} days of history (day {days} is the new day)", flush=True)
    long_history = _history(landing, start, days - 1)
    try:
        _copy_database(database, copies["long"])
    except psycopg2.Error as exc:
        print(f"  one night each: the warehouse cannot be copied "
              f"({' '.join(str(exc).split())})", flush=True)
        copies = {}
    try:
        if copies:
            print(f"-- {short} days of history (day {short + 1} is the new day)", flush=True)
            short_history = _history(landing, start, short)
            _copy_database(database, copies["short"])
            print(f"-- the two increments, {INCREMENT_RUNS} times each, alternating", flush=True)
            long_nights, short_nights = [], []
            for i in range(INCREMENT_RUNS):
                short_nights.append(_night(landing, short_history, copies["short"],
                                           f"day {short + 1}, run {i + 1}"))
                # the long night last: it leaves the whole data set loaded for the full build
                long_nights.append(_night(landing, long_history, copies["long"],
                                          f"day {days}, run {i + 1}"))
        else:
            long_nights = [_night(landing, long_history, None, f"day {days}")]
        # The whole data set is loaded now: the full build's input.
        print(f"-- full build of all {days} days", flush=True)
        full = _dbt("build", "--full-refresh")
        _show("dbt build --full-refresh", full)
        full_run = _dbt("run", "--full-refresh")
        _show("dbt run --full-refresh (no tests)", full_run)
        if not copies:
            print(f"-- {short} days of history (day {short + 1} is the new day)", flush=True)
            short_history = _history(landing, start, short)
            short_nights = [_night(landing, short_history, None, f"day {short + 1}")]
    finally:
        if copies:
            with _server_cursor() as cur:
                for copy in copies.values():
                    _drop_database(cur, copy)
    long = _increment(long_history, long_nights)
    small = _increment(short_history, short_nights)

    incr_long = long["increment_build"]["seconds"]
    incr_short = small["increment_build"]["seconds"]
    ratio = incr_long / incr_short
    events = long["history_events"] + long["new_day_events"]
    print(f"\n  full build ({events:,} events): {full['seconds']:.1f}s "
          f"(dbt run alone {full_run['seconds']:.1f}s)")
    print(f"  increment after {short} days:  {incr_short:6.1f}s for "
          f"{small['new_day_events']:,} new events (nothing new: "
          f"{small['noop_build']['seconds']:.1f}s)")
    print(f"  increment after {days - 1} days: {incr_long:6.1f}s for "
          f"{long['new_day_events']:,} new events (nothing new: "
          f"{long['noop_build']['seconds']:.1f}s)")
    verdict = "ok" if ratio <= INCREMENT_TARGET else "OVER TARGET"
    median_ratio = long["increment_median_s"] / small["increment_median_s"]
    print(f"  ratio incr{days} / incr{short + 1} = {ratio:.2f}, fastest of each   "
          f"(target <= {INCREMENT_TARGET}: {verdict}); median of each {median_ratio:.2f} "
          f"(runs: {long['increment_runs_s']} s and {small['increment_runs_s']} s)")
    empty = long["noop_build"]["seconds"] / incr_long
    verdict = "ok" if empty < EMPTY_BUILD_TARGET else "OVER TARGET"
    print(f"  nothing new / increment after {days - 1} days = {empty:.3f}   "
          f"(target < {EMPTY_BUILD_TARGET:.2f}: {verdict}); dbt's own build with nothing "
          f"new / increment = {long['dbt_noop_build']['seconds'] / incr_long:.2f}")
    return {"events": events, "full_build": full, "full_run": full_run,
            "increment_short": small, "increment_long": long,
            "ratio_increment_long_vs_short": ratio, "target": INCREMENT_TARGET,
            "ratio_increment_medians": median_ratio, "increment_runs": INCREMENT_RUNS,
            "ratio_empty_build_vs_increment": empty, "empty_target": EMPTY_BUILD_TARGET}


# --- the quality gate -----------------------------------------------------------------

GATE_TARGET = 0.25  # gate seconds / dbt build seconds


def _gate(day: date, batches: list[int], run_id: str, whole_history: bool = False,
          ) -> tuple[float, list]:
    from pulse.quality import gate, suites

    started = time.perf_counter()
    results = gate.run([*suites.AFTER_LOAD, *suites.AFTER_DBT], day, run_id,
                       loaded_batches=batches, log_line=lambda _m: None,
                       raise_on_failure=False, whole_history=whole_history)
    return time.perf_counter() - started, results


def bench_gate(landing: Path, tally: dict) -> dict:
    print("\n== gate: every quality suite vs the dbt build of the same data ==", flush=True)
    t = time.perf_counter()
    import great_expectations  # noqa: F401  (once per process; not the gate's own cost)

    print(f"  importing great_expectations: {time.perf_counter() - t:.1f}s (once per process)")
    start = date.fromisoformat(tally["params"]["start"])
    last = start + timedelta(days=int(tally["params"]["days"]) - 1)
    _reset()
    migrate.apply(log=lambda _m: None)
    report = loader.load(landing, through=last - timedelta(days=1))
    first_batches = [f.batch_id for f in report.files if f.batch_id is not None]
    _load_through(landing, last)  # the last day is loaded now, on its own
    conn = warehouse.connect()
    with conn, conn.cursor() as cur:
        cur.execute("select count(*) from raw.events")
        events = cur.fetchone()[0]
    conn.close()
    full = _dbt("build", "--full-refresh")
    _show("dbt build --full-refresh", full)
    # The scope of a run that loaded everything: the earlier batches, plus (as in every
    # gate run) the night's own.
    all_batches = first_batches
    # Both over every row: the star suite would otherwise check only the rows written
    # since the warm-up passed (docs/incremental.md, "The gate's star suite").
    _gate(last, all_batches, "bench_warmup", whole_history=True)  # first connection, rendering
    full_gate, results = _gate(last, all_batches, "bench_full", whole_history=True)
    failed = [r.summary() for r in results if not r.success]
    print(f"  gate over the whole load ({events:,} events): {full_gate:.1f}s"
          + (f"   FAILED: {failed}" if failed else ""))
    nightly_build = _dbt("build")
    nightly_gate, _ = _gate(last, [], "bench_nightly")
    print(f"  nightly gate (the last day's batches): {nightly_gate:.1f}s "
          f"vs a nightly build with nothing new {nightly_build['seconds']:.1f}s")
    ratio = full_gate / full["seconds"]
    nightly_ratio = nightly_gate / nightly_build["seconds"]
    verdict = "ok" if ratio < GATE_TARGET else "OVER TARGET"
    print(f"  ratio gate / full build = {ratio:.2f}   (target < {GATE_TARGET}: {verdict}); "
          f"nightly gate / nightly build = {nightly_ratio:.2f}")
    per_suite = {r.suite.name: (r.finished_at - r.started_at).total_seconds() for r in results}
    return {"events": events, "full_build_s": full["seconds"], "gate_full_s": full_gate,
            "gate_per_suite_s": per_suite, "ratio_gate_vs_full_build": ratio,
            "nightly_build_s": nightly_build["seconds"], "gate_nightly_s": nightly_gate,
            "ratio_nightly_gate_vs_nightly_build": nightly_ratio, "target": GATE_TARGET}


SECTIONS = ("loader", "dbt", "gate", "ml", "webhooks", "privacy", "dashboards", "xl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="peer", choices=["tiny", "demo", "peer", "xl"],
                        help="xl runs the xl section alone (bench/xl.py)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--noise", type=float, nargs="?", const=1.0, default=0.0,
                        help="noisier churn in the data set, 0..1 (bare --noise: 1)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", choices=SECTIONS, default=None,
                        help="run one section (default: all but xl)")
    parser.add_argument("--scale", type=cliargs.positive_fraction, default=1.0,
                        help="xl only: shrink users and the Enterprise traffic, e.g. 0.05")
    args = parser.parse_args(argv)
    if args.size == "xl":
        args.only = "xl"

    try:
        cluster.up(log=lambda m: print(m, flush=True))
    except warehouse.WarehouseError as exc:
        # the message says what to do (a port taken, binaries missing): no traceback
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    out = settings().data_dir / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Each section replaces only its own figures: an --only run keeps the others'.
    results = json.loads(out.read_text()) if out.exists() else {}

    def record(name: str, section: dict, size: str | None = None) -> None:
        nonlocal results
        results = merge_results(results, name, section, size=size or args.size,
                                seed=args.seed, noise=args.noise)
        out.write_text(json.dumps(results, indent=2))

    if args.only == "xl":
        from bench.xl import bench_xl

        try:
            record("xl", bench_xl(args.seed, args.scale, settings().data_dir), size="xl")
        except (DbtFailed, RuntimeError) as exc:
            print(f"\n{exc}", file=sys.stderr)
            return 1
        print(f"\nresults written to {out}")
        return 0

    # The webhooks section needs no data set.
    landing, tally = (_dataset(args.size, args.seed, args.noise) if args.only != "webhooks"
                      else (None, {}))
    if args.only in (None, "loader"):
        record("loader", bench_loader(landing, args.repeat))
    status = 0
    if args.only in (None, "dbt"):
        try:
            record("dbt", bench_dbt(landing, tally))
        except DbtFailed as exc:
            print(f"\n{exc}", file=sys.stderr)
            status = 1
    if args.only in (None, "gate"):
        try:
            record("gate", bench_gate(landing, tally))
        except DbtFailed as exc:
            print(f"\n{exc}", file=sys.stderr)
            status = 1
    if args.only in (None, "ml"):
        from bench.ml import bench_ml, ml_quality

        try:
            ml = bench_ml(landing, tally, _reset, _dbt)
            record("ml", ml)
            quality = results.setdefault("ml_quality", {})
            quality[dataset_key(args.size, args.seed, args.noise)] = ml_quality(ml, tally)
            out.write_text(json.dumps(results, indent=2))
        except DbtFailed as exc:
            print(f"\n{exc}", file=sys.stderr)
            status = 1
    if args.only in (None, "privacy"):
        from bench.privacy import bench_privacy

        try:
            record("privacy", bench_privacy(landing, tally, _reset, _dbt))
        except DbtFailed as exc:
            print(f"\n{exc}", file=sys.stderr)
            status = 1
    if args.only in (None, "webhooks"):
        from bench.webhooks import bench_webhooks

        record("webhooks", bench_webhooks(), size="none")
    if args.only in (None, "dashboards"):
        from bench.dashboards import bench_dashboards

        try:
            record("dashboards", bench_dashboards(landing, tally, _reset, _dbt))
        except DbtFailed as exc:
            print(f"\n{exc}", file=sys.stderr)
            status = 1
    print(f"\nresults written to {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
