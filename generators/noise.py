"""Noisier churn (`--noise LEVEL`): what real product data does and the clean world does not.

Applied to a built world with its own random stream, so the clean world of a seed is
unchanged and the noisy one is the same for the same seed and level (docs/demo.md,
"Noisier churn"). LEVEL in [0, 1] scales every probability below:
- abrupt stops: a leaving user stops at once instead of fading over weeks;
- returners: a user goes quiet for 31-60 days (looks churned by the 30-day label) and
  comes back; some stay, some later leave for good;
- tenant-wide seasonal lulls: 10-21 days in which a tenant's users are much less active;
- shocks: users who leave on a random day for reasons no feature records (a reorg, a
  budget cut), without fading first.
"""

from __future__ import annotations

import random

from .ids import sub_seed
from .world import NEVER, World

LULL_FACTOR = 0.25  # activity kept during a tenant's lull
P_ABRUPT = 0.5
P_RETURN = 0.3
P_BREAK = 0.06  # staying users who still take a long break
P_LULL = 0.6
P_SHOCK = 0.12


def apply_noise(world: World, level: float) -> dict[str, int]:
    """Make the world's churn noisier in place; returns how many of each kind."""
    if not 0.0 <= level <= 1.0:
        raise ValueError("noise must be in [0, 1]")
    counts = {"abrupt_stops": 0, "returners": 0, "tenant_lulls": 0, "shocks": 0}
    if level == 0.0:
        return counts
    r = random.Random(sub_seed(world.seed, "noise"))
    days = world.days
    for t in world.tenants:
        if r.random() < P_LULL * level and days > 20:
            first = r.randint(max(0, t.created_day), max(t.created_day, days - 10))
            t.lull = (first, first + r.randint(10, 21))
            counts["tenant_lulls"] += 1
    for u in world.users:
        t = world.tenants[u.tenant]
        first_day = max(u.signup_day + 1, 0)
        if r.random() < P_SHOCK * level and first_day < days - 1:
            # a shock: leaves on a day unrelated to anything the data shows
            shock = r.randint(first_day, days - 1)
            if shock < u.stop_day:
                u.fade_start = u.stop_day = shock
                counts["shocks"] += 1
                continue
        leaving = u.stop_day < min(days, t.churn_day)
        if leaving and r.random() < P_RETURN * level:
            back = u.stop_day + r.randint(31, 60)
            if back < t.churn_day - t.fade_days:
                u.gap = (u.stop_day, back)
                stays = r.random() < 0.6
                later = NEVER if stays else back + int(r.expovariate(1 / 45))
                u.stop_day = min(later, t.churn_day)
                u.fade_start = min(later, t.churn_day - t.fade_days)
                counts["returners"] += 1
                continue
        if leaving and r.random() < P_ABRUPT * level:
            u.fade_start = u.stop_day
            counts["abrupt_stops"] += 1
        elif not leaving and r.random() < P_BREAK * level and first_day < days - 31:
            start = r.randint(first_day, days - 31)
            u.gap = (start, start + r.randint(31, 60))
            counts["returners"] += 1
    return counts
