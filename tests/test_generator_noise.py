"""The generator's noisier churn (`--noise`, generators/noise.py; docs/demo.md): abrupt
stops, returners after 30+ day gaps, tenant-wide lulls, shocks no feature records.
Deterministic per seed. Fast: worlds are built in memory, one small tree is written."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import date

import numpy as np

from generators import generate
from generators.noise import apply_noise
from generators.world import NEVER, build_world

START = date(2026, 1, 1)
SHAPE = (8, 600, 120)  # tenants, users, days


def _world(seed: int, noise: float):
    world = build_world(seed, *SHAPE, START)
    counts = apply_noise(world, noise)
    return world, counts


def _fingerprint(world) -> list[tuple]:
    return ([(u.user_id, u.fade_start, u.stop_day, u.gap) for u in world.users]
            + [(t.tenant_id, t.lull) for t in world.tenants])


def test_noise_is_deterministic_per_seed_and_absent_by_default():
    assert _fingerprint(_world(3, 1.0)[0]) == _fingerprint(_world(3, 1.0)[0])
    assert _fingerprint(_world(3, 1.0)[0]) != _fingerprint(_world(4, 1.0)[0])
    clean, counts = _world(3, 0.0)
    assert _fingerprint(clean) == _fingerprint(build_world(3, *SHAPE, START))
    assert counts == {"abrupt_stops": 0, "returners": 0, "tenant_lulls": 0, "shocks": 0}
    assert all(u.gap == (NEVER, NEVER) for u in clean.users)
    assert all(t.lull == (NEVER, NEVER) for t in clean.tenants)


def test_noise_adds_abrupt_stops_returners_lulls_and_unseen_shocks():
    days = SHAPE[2]
    clean = build_world(3, *SHAPE, START)
    noisy, counts = _world(3, 1.0)
    assert all(v > 0 for v in counts.values()), counts

    def abrupt(w) -> int:
        return sum(1 for u in w.users if u.stop_day < days and u.fade_start >= u.stop_day)

    assert abrupt(noisy) > 3 * max(1, abrupt(clean))
    gaps = [u.gap for u in noisy.users if u.gap[0] < days]
    assert gaps and all(end - start > 30 for start, end in gaps)
    # some of them come back inside the period
    assert any(end < days for _, end in gaps)
    lulls = [t.lull for t in noisy.tenants if t.lull[0] < NEVER]
    assert lulls and all(10 <= end - start <= 21 for start, end in lulls)

    # churn depends less on what the data shows (engagement) once shocks are in
    def corr(w) -> float:
        e = np.array([u.engagement for u in w.users])
        churned = np.array([u.stop_day < days for u in w.users], dtype=float)
        return abs(float(np.corrcoef(e, churned)[0, 1]))

    assert corr(noisy) < corr(clean)


def _digest(folder) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.ndjson.gz")):
        h.update(path.relative_to(folder).as_posix().encode())
        with gzip.open(path, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def test_noisy_files_are_reproducible_and_show_returners(tmp_path):
    kwargs = {"seed": 9, "tenants": 3, "users": 90, "days": 80, "start": START, "noise": 1.0}
    tally = generate(tmp_path / "a", **kwargs)
    generate(tmp_path / "b", **kwargs)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert tally["params"]["noise"] == 1.0 and tally["noise"]["returners"] > 0
    # in the events: someone silent for more than 30 days, then active again
    active: dict[str, set[int]] = {}
    for path in (tmp_path / "a" / "events").glob("dt=*/*.ndjson.gz"):
        with gzip.open(path, "rt") as fh:
            for line in fh:
                ev = json.loads(line)
                if ev["event_name"] in ("session.started", "feature.used"):
                    day = (date.fromisoformat(ev["timestamp"][:10]) - START).days
                    active.setdefault(ev["user_id"], set()).add(day)
    longest = {u: max(np.diff(sorted(d)), default=0) for u, d in active.items()}
    assert any(gap > 30 for gap in longest.values())
