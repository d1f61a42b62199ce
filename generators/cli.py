"""python -m generators --out DIR [--size tiny|demo|peer] [--seed N] [--dirty F] ..."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from pulse import cliargs

from .catalog import AT_LIMIT, SIZES
from .core import OutputDirError, generate


def _parser(prog: str) -> argparse.ArgumentParser:
    p = cliargs.OneLineParser(
        prog=prog,
        description="Write reproducible synthetic Pulse landing files (events + billing exports).",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--seed", type=cliargs.non_negative_int, default=42)
    p.add_argument("--size", choices=sorted(SIZES), default="demo",
                   help="preset: " + ", ".join(f"{k}={v[0]}t/{v[1]}u/{v[2]}d"
                                               for k, v in SIZES.items()))
    p.add_argument("--tenants", type=cliargs.positive_int, help="overrides the preset")
    p.add_argument("--users", type=cliargs.positive_int, help="overrides the preset")
    p.add_argument("--days", type=cliargs.positive_int, help="overrides the preset")
    p.add_argument("--start", type=cliargs.day, default=date(2026, 1, 1),
                   help="first day, YYYY-MM-DD (default 2026-01-01)")
    p.add_argument("--dirty", type=cliargs.fraction, default=0.0,
                   help="fraction of extra faulty / duplicate / late lines, e.g. 0.02")
    p.add_argument("--noise", type=cliargs.fraction, nargs="?", const=1.0, default=0.0,
                   help="noisier churn, 0..1 (bare --noise: 1): abrupt stops, returners "
                        "after 30+ day gaps, tenant lulls, unseen shocks")
    p.add_argument("--scale", type=cliargs.positive_fraction, default=1.0,
                   help="shrink the preset's users and at-limit traffic, e.g. 0.05")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m generators") -> int:
    args = _parser(prog).parse_args(argv)
    tenants, users, days = SIZES[args.size]
    users = max(2 * tenants, round(users * args.scale))
    at_limit = AT_LIMIT.get(args.size, 0.0) * args.scale
    tenants = args.tenants if args.tenants is not None else tenants
    users = args.users if args.users is not None else users
    days = args.days if args.days is not None else days
    t0 = time.perf_counter()
    try:
        tally = generate(
            args.out, seed=args.seed, tenants=tenants, users=users, days=days,
            start=args.start, dirty=args.dirty, noise=args.noise, progress=not args.no_progress,
            at_limit=at_limit,
        )
    except (OutputDirError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    secs = time.perf_counter() - t0
    n_files = (len(tally["files"]) + len(tally["accounts_files"])
               + len(tally["users_files"]) + 1)
    faults = sum(tally["faults"].values())
    print(
        f"wrote {n_files} files to {args.out}: {tally['unique_events']} events, "
        f"{tally['lines']} event lines, {faults} faults, {tally['duplicates']} duplicates, "
        f"{tally['late']} late in {secs:.1f}s ({tally['unique_events'] / secs:,.0f} events/s)"
    )
    return 0
