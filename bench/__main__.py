"""`make bench`: Pulse's speed as ratios against baselines run in the same process.

Runs against its own database, `pulse_bench` on the local cluster. With WAREHOUSE_URL
set it uses that database as it is, and drops Pulse's schemas in it: point it at a
scratch database.

    python -m bench [--size peer|demo|tiny] [--repeat 2] [--only loader]

Loader: the loader's events/s against a bare COPY of the same lines into a bare JSONB
table (decompressed and escaped the same way, no validation, no typed columns).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

if not os.environ.get("WAREHOUSE_URL"):
    os.environ.setdefault("PULSE_WAREHOUSE_DB", "pulse_bench")

from pulse import loader, migrate, warehouse
from pulse.config import settings

SCHEMAS = ("raw", "staging", "intermediate", "marts", "reference", "analytics", "snapshots",
           "bench")


def _reset() -> None:
    conn = warehouse.connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        for schema in SCHEMAS:
            cur.execute(f'drop schema if exists "{schema}" cascade')
    conn.close()


def _dataset(size: str, seed: int) -> tuple[Path, dict]:
    from generators import generate, size_params

    out = settings().data_dir / "bench" / f"{size}-{seed}"
    tally_path = out / "_tally.json"
    if tally_path.exists():
        tally = json.loads(tally_path.read_text())
        print(f"data set: {out} (reused; {tally['valid_lines']:,} valid lines)")
        return out, tally
    print(f"generating the {size} data set into {out} ...", flush=True)
    started = time.perf_counter()
    tally = generate(out, seed=seed, dirty=0.01, progress=True, **size_params(size))
    print(f"generated {tally['valid_lines']:,} valid lines in "
          f"{time.perf_counter() - started:.1f}s")
    return out, tally


def _bare_copy(landing: Path) -> tuple[int, float]:
    """The floor: COPY every line of every event file into (payload jsonb), nothing else.
    Invalid lines are skipped by a cheap check the real loader also has to make, so both
    sides load the same rows."""
    conn = warehouse.connect()
    with conn, conn.cursor() as cur:
        cur.execute("create schema if not exists bench")
        cur.execute("drop table if exists bench.bare_events")
        cur.execute("create table bench.bare_events (payload jsonb not null)")
    files = sorted((landing / "events").glob("dt=*/*.ndjson.gz"))
    valid = _valid_line_numbers(files)
    rows = 0
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
    """Which lines the loader accepts, read back from its own quarantine so the baseline
    copies exactly the rows the loader loaded (computed before timing either side)."""
    conn = warehouse.connect()
    with conn, conn.cursor() as cur:
        cur.execute("select file_path, line_number from raw.rejected_events")
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


def _pulse_load(landing: Path) -> tuple[int, float]:
    _reset()
    migrate.apply(log=lambda _m: None)
    started = time.perf_counter()
    report = loader.load(landing)
    elapsed = time.perf_counter() - started
    events = sum(f.rows_loaded for f in report.files if f.file.kind == "events")
    return events, elapsed


def bench_loader(landing: Path, repeat: int) -> dict:
    print("\n== loader: Pulse's loader vs a bare COPY into a JSONB table ==", flush=True)
    best_loader = best_bare = None
    for i in range(repeat):
        n, t = _pulse_load(landing)
        print(f"  run {i + 1}: loader    {n:>10,} events in {t:7.2f}s = {n / t:>10,.0f} ev/s")
        best_loader = min(best_loader or t, t)
        m, u = _bare_copy(landing)
        print(f"  run {i + 1}: bare COPY {m:>10,} rows   in {u:7.2f}s = {m / u:>10,.0f} rows/s")
        best_bare = min(best_bare or u, u)
        assert m == n, f"baseline copied {m} rows, loader {n}"
    ratio = best_bare / best_loader
    print(f"  loader throughput = {n / best_loader:,.0f} events/s; "
          f"bare COPY = {n / best_bare:,.0f} rows/s")
    print(f"  ratio loader / bare COPY = {ratio:.2f}   (target >= 0.80)")
    return {"events": n, "loader_s": best_loader, "bare_copy_s": best_bare,
            "loader_events_per_s": n / best_loader, "ratio_vs_bare_copy": ratio}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="peer", choices=["tiny", "demo", "peer"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", choices=["loader"], default=None)
    args = parser.parse_args(argv)

    warehouse.up(log=lambda m: print(m, flush=True))
    landing, _tally = _dataset(args.size, args.seed)
    results = {"size": args.size, "loader": bench_loader(landing, args.repeat)}
    out = settings().data_dir / "bench" / "results.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
