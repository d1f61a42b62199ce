"""The simulated customers: tenants with their billing history, users with their latent traits.

Everything here is decided before any event is written, so the event stream (simulate.py)
only has to play the plan out day by day. Churn is drawn from a hazard that depends on
traits the events later reveal (engagement, activation, feature breadth, support tickets,
plan, tenant health), which is what makes it learnable downstream.

Over 300 lines on purpose: the plan of the whole simulated world (tenants, plans and
their history, users and the traits churn depends on) is drawn from one random stream in
one order; split, the draws' order (and every seed's output) would be easy to change
by accident.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, timedelta

from faker import Faker

from .catalog import COMPANY_SIZES, FEATURES, INDUSTRIES, INTEGRATIONS, PLANS, mrr_for
from .ids import short_id, sub_seed

NEVER = 10**6  # a day index beyond any period
TRIAL_DAYS = 14

CHANNELS: tuple[str, ...] = (
    "organic_search", "paid_search", "social", "referral", "email", "direct", "partner",
)
CHANNEL_WEIGHTS: tuple[float, ...] = (0.28, 0.2, 0.12, 0.12, 0.08, 0.14, 0.06)
UTM: dict[str, tuple[str | None, str | None, tuple[str | None, ...]]] = {
    "organic_search": ("google", "organic", (None,)),
    "paid_search": ("google", "cpc", ("brand_search", "competitor_terms", "q1_analytics")),
    "social": ("linkedin", "social", ("thought_leadership", "webinar_promo")),
    "referral": ("g2", "referral", ("reviews",)),
    "email": ("newsletter", "email", ("weekly_digest", "product_update", "invite")),
    "direct": (None, None, (None,)),
    "partner": ("partner_portal", "partner", ("reseller_q1",)),
}

DEVICES: tuple[tuple[str, str, str, str, float], ...] = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/121.0.0.0 Safari/537.36", "desktop", "chrome", "windows", 0.34),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/121.0.0.0 Safari/537.36", "desktop", "chrome", "macos", 0.22),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.2 Safari/605.1.15", "desktop", "safari", "macos", 0.1),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/121.0.0.0 Safari/537.36 Edg/121.0.2277.83", "desktop", "edge", "windows", 0.12),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0",
     "desktop", "firefox", "linux", 0.06),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1", "mobile", "safari", "ios",
     0.08),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/121.0.0.0 Mobile Safari/537.36", "mobile", "chrome", "android", 0.05),
    ("Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.2 Mobile/15E148 Safari/604.1", "tablet", "safari", "ios", 0.03),
)

TZ_OFFSETS: tuple[int, ...] = (-8, -7, -6, -5, -5, -5, 0, 1, 1, 2, 5, 8, 10)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def quota(n: int, weights: dict[str, float], r: random.Random, at_least_one: bool) -> list[str]:
    """n labels with the given shares (largest remainder), shuffled.

    With at_least_one, every label occurs when n allows: tiny runs still cover every case.
    """
    total = sum(weights.values())
    exact = {k: n * w / total for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    if at_least_one and n >= len(weights):
        for k in counts:
            counts[k] = max(counts[k], 1)
    while sum(counts.values()) < n:
        k = max(exact, key=lambda k: (exact[k] - counts[k], k))
        counts[k] += 1
    while sum(counts.values()) > n:
        k = max(counts, key=lambda k: (counts[k] - exact[k], k))
        counts[k] -= 1
    out = [k for k in weights for _ in range(counts[k])]
    r.shuffle(out)
    return out


@dataclass(slots=True)
class Tenant:
    idx: int
    tenant_id: str
    name: str
    domain: str
    industry: str
    company_size: str
    created_day: int
    trial_end_day: int
    discount: float
    health: float
    tz_offset: int
    v2_day: int
    heavy: bool = False
    surge: tuple[int, int] = (NEVER, NEVER)
    # Share of the plan's monthly event limit sent as API traffic every day (0: none).
    at_limit: float = 0.0
    churn_day: int = NEVER
    fade_days: int = 0
    # (day, plan, seats) sorted by day; the first entry is the state at creation
    changes: list[tuple[int, str, int]] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    admin: int = -1
    # [first, end) days of a tenant-wide seasonal lull (generators.noise); none by default
    lull: tuple[int, int] = (NEVER, NEVER)

    def state(self, day: int) -> tuple[str, int]:
        plan, seats = self.changes[0][1], self.changes[0][2]
        for d, p, s in self.changes:
            if d > day:
                break
            plan, seats = p, s
        return plan, seats

    def status(self, day: int) -> str:
        if day >= self.churn_day:
            return "churned"
        if day < self.trial_end_day:
            return "trialing"
        return "active"

    def mrr(self, day: int) -> float:
        if self.status(day) != "active":
            return 0.0
        plan, seats = self.state(day)
        return mrr_for(plan, seats, self.discount)


@dataclass(slots=True)
class User:
    idx: int
    user_id: str
    tenant: int
    role: str
    email: str
    signup_day: int
    pre_existing: bool
    engagement: float
    base_p: float
    events_scale: float
    ticket_rate: float
    activated_7d: bool
    # (day, step) to emit on the user's first session on or after that day
    onboarding: list[tuple[int, str]]
    onboarding_done_day: int
    integration: tuple[int, str] | None
    adoption: dict[str, int]  # feature -> first day it can be used
    fade_start: int
    stop_day: int  # first day without any activity (NEVER: keeps going)
    signup_method: str
    invited_by: str | None
    consent: dict[str, bool]
    consent_change: tuple[int, dict[str, bool]] | None
    first_touch: str
    device: tuple[str, str, str, str]
    ip: str
    props_cache: dict[str, dict[str, object]] = field(default_factory=dict)
    ctx_cache: dict[tuple[str | None, str | None], dict] = field(default_factory=dict)
    # [first, end) days of a break after which the user comes back (generators.noise)
    gap: tuple[int, int] = (NEVER, NEVER)


@dataclass(slots=True)
class World:
    seed: int
    start: date
    days: int
    tenants: list[Tenant]
    users: list[User]


def _company_size(plan: str, r: random.Random) -> str:
    col = ("starter", "professional", "enterprise").index(plan)
    labels = [s for s, _ in COMPANY_SIZES]
    weights = [w[col] for _, w in COMPANY_SIZES]
    return r.choices(labels, weights)[0]


def _allocate_users(n_users: int, plans: list[str], r: random.Random) -> list[int]:
    # Users land roughly by seats, capped by what a plan's seat limit makes plausible
    # (seats are reused as users churn, so caps sit above the plan's seat limit).
    # D'Hondt over noisy weights: deterministic, no tenant left empty when avoidable.
    base = {"starter": 1.0, "professional": 4.0, "enterprise": 18.0}
    cap = {"starter": 8, "professional": 35, "enterprise": 10**9}
    n = len(plans)
    weights = [base[p] * math.exp(r.gauss(0, 0.4)) for p in plans]
    floor = 2 if n_users >= 2 * n else (1 if n_users >= n else 0)
    counts = [floor] * n
    for _ in range(n_users - floor * n):
        open_ = [i for i in range(n) if counts[i] < cap[plans[i]]] or list(range(n))
        best = max(open_, key=lambda i: (weights[i] / (counts[i] + 1), -i))
        counts[best] += 1
    return counts


def _initial_seats(plan: str, n_users: int, r: random.Random) -> int:
    if plan == "starter":
        return max(1, min(5, round(n_users * r.uniform(0.5, 0.8))))
    if plan == "professional":
        return max(6, min(25, round(n_users * r.uniform(0.6, 0.9))))
    return max(30, min(300, round(n_users * r.uniform(0.5, 0.9))))


def _clamp_seats(plan: str, seats: int) -> int:
    cap = PLANS[plan].max_seats
    lo = {"starter": 1, "professional": 6, "enterprise": 30}[plan]
    return max(lo, min(cap if cap is not None else 300, seats))


def build_world(
    seed: int, n_tenants: int, n_users: int, days: int, start: date, at_limit: float = 0.0
) -> World:
    r = random.Random(sub_seed(seed, "world"))
    fake = Faker("en_US")

    plans = quota(n_tenants, {"starter": 0.5, "professional": 0.35, "enterprise": 0.15}, r, True)
    sdk = quota(n_tenants, {"before": 0.35, "during": 0.45, "never": 0.2}, r, True)
    user_counts = _allocate_users(n_users, plans, r)

    tenants: list[Tenant] = []
    used_ids: set[str] = set()
    used_domains: set[str] = set()
    for i in range(n_tenants):
        fake.seed_instance(sub_seed(seed, "faker-tenant", i))
        name = fake.company()
        slug = "".join(c for c in name.lower() if c.isalnum())[:24] or f"tenant{i}"
        domain = f"{slug}.com"
        if domain in used_domains:
            domain = f"{slug}{i}.com"
        used_domains.add(domain)
        tid = short_id("ten", seed, i)
        salt = 0
        while tid in used_ids:
            salt += 1
            tid = short_id("ten", seed, i, salt)
        used_ids.add(tid)
        plan = plans[i]
        # Tiny periods keep every tenant alive from day 0 so short runs still carry events.
        if days >= 30 and r.random() < 0.25:
            created = r.randint(0, int(days * 0.6))
            trial_end = created + TRIAL_DAYS
        else:
            created = -r.randint(30, 1000)
            trial_end = created
        if sdk[i] == "before":
            v2 = -1
        elif sdk[i] == "during":
            v2 = r.randint(max(1, days // 10), max(1, (days * 9) // 10))
        else:
            v2 = NEVER
        t = Tenant(
            idx=i,
            tenant_id=tid,
            name=name,
            domain=domain,
            industry=r.choice(INDUSTRIES),
            company_size=_company_size(plan, r),
            created_day=created,
            trial_end_day=trial_end,
            discount=r.choice((0.0, 0.0, 0.0, 0.1, 0.15)),
            health=r.gauss(0, 1),
            tz_offset=r.choice(TZ_OFFSETS),
            v2_day=v2,
        )
        t.changes.append((created, plan, _initial_seats(plan, user_counts[i], r)))
        tenants.append(t)

    _pick_heavy(tenants, days, start, r)
    if at_limit > 0:
        _pick_at_limit(tenants, days, at_limit)
    _pick_tenant_churn(tenants, days, r)
    for t in tenants:
        _plan_changes(t, days, r)

    users = _build_users(seed, tenants, user_counts, days, r, fake)
    return World(seed=seed, start=start, days=days, tenants=tenants, users=users)


def _pick_heavy(tenants: list[Tenant], days: int, start: date, r: random.Random) -> None:
    # A heavy starter tenant automates against the API and blows through the 100K/month
    # quota in one full calendar month: only worth it when the period holds such a month.
    n_heavy = 0 if len(tenants) < 10 or days < 45 else (1 if len(tenants) < 40 else 2)
    months: list[tuple[int, int]] = []
    d = 0
    while d < days:
        day = start + timedelta(days=d)
        if day.day == 1:
            nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
            end = d + (nxt - day).days
            if end <= days:
                months.append((d, end))
            d = end
        else:
            d += 1
    cands = [t for t in tenants if t.changes[0][1] == "starter" and t.created_day < 0]
    cands.sort(key=lambda t: -t.health)
    for k, t in enumerate(cands[: min(n_heavy, len(months))]):
        t.heavy = True
        t.health = abs(t.health) + 0.5
        t.surge = months[-1 - k]


def _pick_at_limit(tenants: list[Tenant], days: int, share: float) -> None:
    # The xl preset's Enterprise customer: the largest Enterprise tenant that exists from
    # day 0 sends API traffic at its plan's monthly limit all period (docs/scale-out.md).
    # No random draws here, so the other presets' worlds stay as they were.
    cands = [t for t in tenants if t.changes[0][1] == "enterprise" and t.created_day < 0
             and not t.heavy]
    if not cands:
        raise ValueError("at_limit needs an Enterprise tenant: use more tenants")
    t = max(cands, key=lambda t: (t.changes[0][2], -t.idx))
    t.heavy = True  # keeps its plan (no plan changes) and never churns
    t.surge = (0, days)
    t.at_limit = share


def _pick_tenant_churn(tenants: list[Tenant], days: int, r: random.Random) -> None:
    if len(tenants) < 5 or days < 40:
        return
    n = max(1, round(len(tenants) * 0.12))
    cands = [t for t in tenants if not t.heavy and t.created_day < 0]
    score = {
        t.idx: -t.health + (0.6 if t.changes[0][1] == "starter" else 0.0) + r.gauss(0, 0.5)
        for t in cands
    }
    cands.sort(key=lambda t: (-score[t.idx], t.idx))
    for t in cands[:n]:
        t.churn_day = r.randint(max(25, days // 4), days - 3)
        t.fade_days = r.randint(14, 28)


def _plan_changes(t: Tenant, days: int, r: random.Random) -> None:
    first = max(t.created_day, 0) + 7
    last = min(days - 1, t.churn_day - t.fade_days - 1)
    if last <= first or t.heavy:
        return
    plan, seats = t.changes[0][1], t.changes[0][2]
    events: list[tuple[int, str, int]] = []
    rank = PLANS[plan].rank
    if rank < 2 and r.random() < 0.18 * (1 + 0.5 * max(-1.0, min(1.0, t.health))):
        events.append((r.randint(first, last), "up", 0))
    elif rank > 0 and r.random() < 0.1 * (1 - 0.5 * max(-1.0, min(1.0, t.health))):
        events.append((r.randint(first, last), "down", 0))
    for _ in range(r.choice((0, 0, 1, 1, 2))):
        events.append((r.randint(first, last), "seats", 1 if r.random() < 0.65 else -1))
    events.sort()
    seen_days = {t.changes[0][0]}
    for day, kind, sign in events:
        if day in seen_days:
            continue  # one billing change per tenant-day keeps the export unambiguous
        if kind == "up":
            plan = ("starter", "professional", "enterprise")[PLANS[plan].rank + 1]
            seats = _clamp_seats(plan, max(seats + 2, {"professional": 8, "enterprise": 35}[plan]))
        elif kind == "down":
            plan = ("starter", "professional", "enterprise")[PLANS[plan].rank - 1]
            seats = _clamp_seats(plan, seats - 2)
        else:
            step = {"starter": 1, "professional": r.randint(1, 4), "enterprise": r.randint(5, 30)}
            new = _clamp_seats(plan, seats + sign * step[plan])
            if new == seats:
                continue
            seats = new
        seen_days.add(day)
        t.changes.append((day, plan, seats))


def _feature_adoption(
    plan: str, e: float, activated: bool, signup: int, r: random.Random
) -> dict[str, int]:
    col = ("starter", "professional", "enterprise").index(plan)
    out: dict[str, int] = {}
    for f in FEATURES:
        p = f.adoption[col] * (0.55 + 0.45 * _sigmoid(1.6 * e)) * 1.35
        if not activated and not f.is_core:
            p *= 0.4
        if r.random() < min(0.99, p):
            delay = r.expovariate(1.0 / (f.delay_days * (1.3 - 0.25 * max(-1.0, min(1.0, e)))))
            out[f.name] = signup + int(delay)
    if not out:
        out["dashboards"] = signup
    return out


def _build_users(
    seed: int,
    tenants: list[Tenant],
    counts: list[int],
    days: int,
    r: random.Random,
    fake: Faker,
) -> list[User]:
    users: list[User] = []
    used_ids: set[str] = set()
    dev_w = [d[4] for d in DEVICES]
    for t in tenants:
        plan0 = t.changes[0][1]
        old_tenant = t.created_day < 0
        latest_signup = min(days - 1, t.churn_day - t.fade_days - 1)
        for k in range(counts[t.idx]):
            idx = len(users)
            uid = short_id("usr", seed, idx, hex_len=12)
            salt = 0
            while uid in used_ids:
                salt += 1
                uid = short_id("usr", seed, idx, salt, hex_len=12)
            used_ids.add(uid)
            fake.seed_instance(sub_seed(seed, "faker-user", idx))
            first, last = fake.first_name(), fake.last_name()
            local = "".join(c for c in f"{first}.{last}".lower() if c.isascii() and
                            (c.isalnum() or c == "."))
            email = f"{local}{idx % 97}@{t.domain}"
            ip = fake.ipv4_public()
            is_admin = k == 0
            if is_admin:
                pre = old_tenant
                signup = t.created_day
            else:
                pre = old_tenant and r.random() < 0.42
                lo = max(t.created_day, 0)
                if pre:
                    signup = r.randint(t.created_day, -1)
                elif lo <= latest_signup:
                    signup = r.randint(lo, latest_signup)
                else:
                    pre, signup = True, r.randint(t.created_day, -1)
            e = r.gauss(0, 1) + (0.6 if is_admin else 0.0) + (1.0 if t.heavy else 0.0)
            role = "owner" if is_admin else r.choices(ROLE_CHOICES, (0.12, 0.48, 0.4))[0]
            users.append(
                _make_user(
                    seed, idx, uid, t, role, email, ip, signup, pre, e, plan0, days, r,
                    DEVICES[r.choices(range(len(DEVICES)), dev_w)[0]][:4],
                )
            )
            t.users.append(idx)
        if t.users:
            t.admin = t.users[0]
    _assign_inviters(users, tenants, r)
    return users


ROLE_CHOICES: tuple[str, ...] = ("admin", "analyst", "viewer")


def _make_user(
    seed: int,
    idx: int,
    uid: str,
    t: Tenant,
    role: str,
    email: str,
    ip: str,
    signup: int,
    pre: bool,
    e: float,
    plan0: str,
    days: int,
    r: random.Random,
    device: tuple[str, str, str, str],
) -> User:
    # Activation: onboarding steps then onboarding.completed, mostly within the first week.
    onboarding: list[tuple[int, str]] = []
    done_day = NEVER
    p_act = _sigmoid(0.9 + 1.3 * e)
    if pre:
        activated = r.random() < p_act
        if activated:
            done_day = signup
    else:
        from .catalog import ONBOARDING_STEPS

        activated = r.random() < p_act
        if activated:
            span = r.randint(0, 5) if r.random() < 0.85 else r.randint(8, 20)
            steps = list(ONBOARDING_STEPS)
            for j, step in enumerate(steps):
                onboarding.append((signup + (span * j) // len(steps), step))
            done_day = signup + span
            onboarding.append((done_day, "__completed__"))
        else:
            for j in range(r.choice((0, 1, 1, 2, 3))):
                onboarding.append((signup + j * r.randint(0, 2), ONBOARDING_STEPS[j]))
    activated_7d = activated and done_day - signup <= 6
    integration = None
    if activated and r.random() < 0.35 + 0.15 * PLANS[plan0].rank:
        integration = (done_day + r.randint(0, 10), r.choice(INTEGRATIONS))
    adoption = _feature_adoption(plan0, e, activated, signup, r)
    breadth = len(adoption)

    ticket_z = r.gauss(0, 1)
    ticket_rate = 0.012 * math.exp(0.8 * ticket_z - 0.3 * e)

    # Daily hazard of starting to churn; stays on the learnable side of noisy.
    x = (
        -0.85 * e
        - 0.4 * t.health
        + (0.0 if activated_7d or pre else 0.9)
        - 0.16 * (breadth - 5)
        + 0.35 * ticket_z
        + {"starter": 0.45, "professional": 0.0, "enterprise": -0.3}[plan0]
        + r.gauss(0, 0.45)
    )
    hazard = 0.0095 * math.exp(x)
    if e < -0.4 and r.random() < 0.06:
        hazard *= 0.1  # quiet stayers: low activity, never leave
    if t.heavy and role == "owner":
        hazard = 0.0
    t0 = signup if not pre else -10
    fade_start = NEVER if hazard <= 0 else t0 + int(r.expovariate(hazard))
    fade_len = r.randint(0, 3) if r.random() < 0.08 else r.randint(14, 28)
    stop = NEVER if fade_start >= NEVER // 2 else fade_start + fade_len
    if t.churn_day < NEVER:
        fade_start = min(fade_start, t.churn_day - t.fade_days)
        stop = min(stop, t.churn_day)
    fade_start = max(fade_start, signup + 1)
    stop = max(stop, signup + 1)

    base_p = _sigmoid(-1.1 + 1.1 * e) * (1.1 if plan0 == "enterprise" else 1.0)
    consent = {
        "analytics_tracking": True,
        "behavioral_analysis": r.random() < 0.88,
        "marketing_attribution": r.random() < 0.78,
        "ml_predictions": r.random() >= 0.1,
    }
    change = None
    if r.random() < 0.04:
        new = dict(consent)
        key = r.choice(("behavioral_analysis", "marketing_attribution", "ml_predictions"))
        new[key] = not new[key]
        change = (max(signup + 1, 0) + r.randint(0, max(1, days - 1)), new)
    invited = not pre and role != "owner" and r.random() < 0.6
    if invited:
        method, first_touch = "invite", "email"
    else:
        method = r.choice(("email", "email", "google_sso", "microsoft_sso"))
        first_touch = r.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
    return User(
        idx=idx,
        user_id=uid,
        tenant=t.idx,
        role=role,
        email=email,
        signup_day=signup,
        pre_existing=pre,
        engagement=e,
        base_p=base_p,
        events_scale=math.exp(0.25 * e),
        ticket_rate=ticket_rate,
        activated_7d=activated_7d,
        onboarding=onboarding,
        onboarding_done_day=done_day,
        integration=integration,
        adoption=adoption,
        fade_start=fade_start,
        stop_day=stop,
        signup_method=method,
        invited_by="" if invited else None,
        consent=consent,
        consent_change=change,
        first_touch=first_touch,
        device=device,
        ip=ip,
    )


def _assign_inviters(users: list[User], tenants: list[Tenant], r: random.Random) -> None:
    # The inviter must already exist and still be around on the invitee's signup day.
    # Random probes into the earlier signups keep this linear for 1,000-user tenants.
    for t in tenants:
        members = sorted((users[j] for j in t.users), key=lambda u: (u.signup_day, u.idx))
        days = [u.signup_day for u in members]
        for u in members:
            if u.invited_by != "":
                continue
            n_before = bisect_left(days, u.signup_day)
            inviter = None
            for _ in range(12 if n_before else 0):
                c = members[r.randrange(n_before)]
                if c.stop_day > u.signup_day and c.role in ("owner", "admin", "analyst"):
                    inviter = c
                    break
            if inviter is not None:
                u.invited_by = inviter.user_id
            else:
                u.invited_by = None
                u.signup_method = "email"
