"""generate(): world -> daily event files, daily billing and users exports, and the tally."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import orjson

from .catalog import PLANS
from .faults import FAULT_KINDS, FaultInjector
from .noise import apply_noise
from .simulate import Simulator
from .users_export import users_rows
from .world import World, build_world
from .writer import BackgroundWriter, write_event_day

TALLY = "_tally.json"
OUTPUT_ENTRIES = ("events", "accounts", "users", TALLY)


class OutputDirError(Exception):
    """The output folder holds something that is not a previous generator output."""


def prepare_out_dir(out_dir: Path) -> None:
    """Refuses foreign non-empty folders; wipes a previous output so reruns give equal trees."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise OutputDirError(f"{out_dir} exists and is not a folder")
        entries = list(out_dir.iterdir())
        if entries and not (out_dir / TALLY).is_file():
            raise OutputDirError(
                f"{out_dir} is not empty and has no {TALLY}, so it does not look like a "
                "previous generator output; refusing to overwrite it. Pick an empty or new "
                "folder."
            )
        for name in OUTPUT_ENTRIES:
            p = out_dir / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _accounts_rows(world: World, d: int) -> list[dict]:
    day = world.start + timedelta(days=d)
    rows = []
    for t in sorted(world.tenants, key=lambda t: t.tenant_id):
        if d < t.created_day:
            continue
        plan, seats = t.state(d)
        churned = d >= t.churn_day
        rows.append({
            "export_date": day.isoformat(),
            "tenant_id": t.tenant_id,
            "name": t.name,
            "domain": t.domain,
            "industry": t.industry,
            "company_size": t.company_size,
            "plan": plan,
            "seats": seats,
            "monthly_event_limit": PLANS[plan].monthly_event_limit,
            "mrr": t.mrr(d),
            "currency": "USD",
            "status": t.status(d),
            "created_at": (world.start + timedelta(days=t.created_day)).isoformat(),
            "churned_at": (
                (world.start + timedelta(days=t.churn_day)).isoformat() if churned else None
            ),
        })
    return rows


def generate(
    out_dir: Path,
    *,
    seed: int = 42,
    tenants: int = 20,
    users: int = 2000,
    days: int = 90,
    start: date = date(2026, 1, 1),
    dirty: float = 0.0,
    noise: float = 0.0,
    progress: bool = False,
    at_limit: float = 0.0,
) -> dict:
    """Writes a reproducible landing tree under out_dir and returns its tally (see README)."""
    if tenants < 1 or users < tenants or days < 1:
        raise ValueError("need tenants >= 1, users >= tenants and days >= 1")
    if not 0.0 <= dirty < 0.5:
        raise ValueError("dirty must be in [0, 0.5)")
    if not 0.0 <= noise <= 1.0:
        raise ValueError("noise must be in [0, 1]")
    out_dir = Path(out_dir)
    prepare_out_dir(out_dir)

    # One day's events are held at a time (simulated, placed, then handed to the writer),
    # so memory follows the busiest day, not the period.
    world = build_world(seed, tenants, users, days, start, at_limit)
    noisy = apply_noise(world, noise)
    sim = Simulator(world)
    faults = FaultInjector(seed, dirty, days, start, {t.tenant_id for t in world.tenants})

    files: dict[str, dict] = {}
    accounts_files: dict[str, dict] = {}
    users_files: dict[str, dict] = {}
    unique = 0
    events_by_name: dict[str, int] = {}

    bar = None
    task = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=False)
        bar.start()
        task = bar.add_task("generating days", total=days)
    writer = BackgroundWriter()
    try:
        for d in range(days):
            day_iso = (start + timedelta(days=d)).isoformat()
            clean = sim.day(d)
            unique += len(clean)
            for _, _, ev in clean:
                n = ev["event_name"]
                events_by_name[n] = events_by_name.get(n, 0) + 1
            files.update(write_event_day(out_dir, day_iso, faults.place(d, clean), writer))
            rows = _accounts_rows(world, d)
            rel = f"accounts/dt={day_iso}/accounts.ndjson.gz"
            writer.submit(out_dir / rel, [orjson.dumps(row) for row in rows])
            accounts_files[rel] = {"lines": len(rows)}
            rows = users_rows(world, d, clean)
            rel = f"users/dt={day_iso}/users.ndjson.gz"
            writer.submit(out_dir / rel, [orjson.dumps(row) for row in rows])
            users_files[rel] = {"lines": len(rows)}
            if bar is not None and task is not None:
                bar.advance(task)
    finally:
        writer.close()
        if bar is not None:
            bar.stop()

    total_faults = dict.fromkeys(FAULT_KINDS, 0)
    for f in files.values():
        for k, v in f["faults"].items():
            total_faults[k] += v
    over_quota = []
    for (tid, month), n in sorted(sim.month_counts.items()):
        t = next(t for t in world.tenants if t.tenant_id == tid)
        limits = {PLANS[p].monthly_event_limit for _, p, _ in t.changes}
        if n > min(limits):
            over_quota.append({"tenant_id": tid, "month": month, "events": n,
                               "smallest_limit": min(limits)})
    churned_users = sum(1 for u in world.users if u.stop_day < days)
    tally = {
        "params": {
            "seed": seed, "tenants": tenants, "users": users, "days": days,
            "start": start.isoformat(), "dirty": dirty, "noise": noise,
            **({"at_limit": at_limit} if at_limit else {}),
        },
        "files": files,
        "accounts_files": accounts_files,
        "users_files": users_files,
        "noise": noisy,
        "lines": sum(f["lines"] for f in files.values()),
        "valid_lines": sum(f["valid"] for f in files.values()),
        "unique_events": unique,
        "faults": total_faults,
        "duplicates": sum(f["duplicates"] for f in files.values()),
        "late": sum(f["late"] for f in files.values()),
        "events_by_name": dict(sorted(events_by_name.items())),
        "over_quota": over_quota,
        "users_churned": churned_users,
        "tenants_churned": sum(1 for t in world.tenants if t.churn_day < days),
    }
    (out_dir / TALLY).write_text(json.dumps(tally, indent=2, sort_keys=True) + "\n")
    return tally
