"""Plays the world out day by day as clean events.

This is the hot path (millions of events): events are plain dicts that share their
per-user and per-session parts (user_properties, attribution) instead of copying them,
and all randomness comes from one random.Random so the stream is reproducible.

Over 300 lines on purpose: one class plays a day, and its per-user and per-session state
is shared by every event kind; the hot loop stays in one place to keep it fast and the
random stream in one order.
"""

from __future__ import annotations

import random
from datetime import timedelta

from .catalog import FEATURES, PLANS
from .ids import DAY_MS, HMS, EventIds, day_prefix, short_id, sub_seed
from .noise import LULL_FACTOR
from .world import CHANNEL_WEIGHTS, CHANNELS, UTM, Tenant, User, World

APP = "https://app.pulse-analytics.io"
FEATURE_BY_NAME = {f.name: f for f in FEATURES}
FEATURE_PAGE = {f.name: APP + f.page for f in FEATURES}
FEATURE_CATEGORY = {f.name: f.category for f in FEATURES}
PAGE = {
    "user.signed_up": APP + "/signup",
    "user.logged_in": APP + "/login",
    "session.started": APP + "/home",
    "session.ended": None,
    "onboarding.step_completed": APP + "/onboarding",
    "onboarding.completed": APP + "/onboarding",
    "integration.connected": APP + "/settings/integrations",
    "report.exported": APP + "/reports",
    "dashboard.shared": APP + "/dashboards",
    "support.ticket_created": APP + "/help/tickets/new",
    "user.consent_updated": APP + "/settings/privacy",
    "user.invited": APP + "/settings/team",
}
EXTERNAL_REFERRERS = (
    None, None, None, "https://www.google.com/", "https://mail.google.com/",
    "https://outlook.office.com/", "https://www.linkedin.com/", "https://slack.com/",
)

# Local hour-of-day rhythm of a B2B tool: mornings and early afternoons on working days.
HOUR_WEIGHTS = (
    0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 1.0, 2.5, 5.0, 7.0, 7.5, 6.5,
    5.0, 6.0, 6.5, 6.0, 5.0, 3.5, 2.0, 1.5, 1.2, 1.0, 0.7, 0.4,
)
HOURS = tuple(range(24))
HOUR_TABLE = tuple(random.Random(24).choices(HOURS, HOUR_WEIGHTS, k=4096))
TICKET_PRIORITY = ("low", "normal", "normal", "high", "urgent")
EXPORT_FORMATS = ("csv", "csv", "pdf", "xlsx")
API_ENDPOINTS = (
    ("GET", "/v1/metrics"), ("GET", "/v1/metrics"), ("POST", "/v1/events/batch"),
    ("GET", "/v1/dashboards"), ("POST", "/v1/query"), ("GET", "/v1/reports"),
)
EMAIL_CAMPAIGNS = ("weekly_digest", "product_update", "usage_report", "re_engagement")
CANCEL_REASONS = ("too_expensive", "missing_features", "switched_competitor", "low_usage")

_TABLE = random.Random(20260101)
# Pre-drawn delay distributions, indexed by 12 random bits: drawing them per event with
# expovariate/lognormvariate costs more than the rest of an event together.
RECV_DELAY_MS = tuple(120 + int(_TABLE.expovariate(0.0025)) for _ in range(4096))
GAP_MS = tuple(1500 + int(_TABLE.expovariate(1 / 20000.0)) for _ in range(4096))
FEATURE_GAP_MS = tuple(int(_TABLE.expovariate(1 / 8000.0)) for _ in range(4096))
USAGE_SECONDS = tuple(5 + int(_TABLE.lognormvariate(3.6, 0.9)) for _ in range(4096))

Line = tuple[int, int, dict]  # (received ms within the file's day, generation order, event)


class Simulator:
    def __init__(self, world: World) -> None:
        self.w = world
        self.r = random.Random(sub_seed(world.seed, "events"))
        self.ids = EventIds(world.seed, "clean")
        self.seq = 0
        self.by_uid = {u.user_id: u for u in world.users}
        n = len(world.users)
        self.onb_pos = [0] * n
        self.integration_done = [False] * n
        self.consent_done = [False] * n
        self.last_touch_cache: dict[str, dict[str, str | None]] = {}
        # Invitations are emitted by the inviter on the invitee's signup day.
        self.invites: dict[int, list[User]] = {}
        for u in world.users:
            if u.invited_by and u.signup_day >= 0:
                self.invites.setdefault(u.signup_day, []).append(u)
        self.month_counts: dict[tuple[str, str], int] = {}
        self.out: list[Line] = []

    # -- helpers -----------------------------------------------------------------------

    def _user_props(self, u: User, t: Tenant, plan: str) -> dict[str, object]:
        d = u.props_cache.get(plan)
        if d is None:
            d = {
                "subscription_tier": plan,
                "signup_date": (self.w.start + timedelta(days=u.signup_day)).isoformat(),
                "industry": t.industry,
                "company_size": t.company_size,
                "role": u.role,
            }
            u.props_cache[plan] = d
        return d

    def _attribution(self, channel: str, first: str) -> dict[str, str | None]:
        key = channel + "|" + first
        a = self.last_touch_cache.get(key)
        if a is None:
            src, med, camps = UTM[channel]
            a = {
                "utm_source": src,
                "utm_medium": med,
                "utm_campaign": camps[0],
                "first_touch_channel": first,
                "last_touch_channel": channel,
            }
            self.last_touch_cache[key] = a
        return a

    def _emit(
        self,
        prefix: str,
        u: User,
        t: Tenant,
        v2: bool,
        uprops: dict,
        name: str,
        ms: int,
        props: dict,
        sid: str | None,
        ctx: dict | None,
        attr: dict | None,
    ) -> None:
        # Hottest function of the generator: ids and timestamps are formatted inline
        # (same output as ids.EventIds / ids.iso, without the call overhead).
        r = self.r
        if ms >= DAY_MS:
            ms = DAY_MS - 1 - r.randrange(500)
        recv = ms + RECV_DELAY_MS[r.getrandbits(12)]
        if recv >= DAY_MS:
            recv = DAY_MS - 1
        ids = self.ids
        i = ids._pos
        x = ids._hex
        if i >= len(x):
            x = ids.refill()
            i = 0
        ids._pos = i + 32
        ev = {
            "event_id": f"{x[i:i + 8]}-{x[i + 8:i + 12]}-4{x[i + 13:i + 16]}"
            f"-{x[i + 16:i + 20]}-{x[i + 20:i + 32]}",
            "tenant_id": t.tenant_id,
            "user_id": u.user_id,
            "session_id": sid,
            "event_name": name,
            "event_version": "2.0" if v2 else "1.0",
            "timestamp": f"{prefix}{HMS[ms // 1000]}.{ms % 1000:03d}Z",
            "received_at": f"{prefix}{HMS[recv // 1000]}.{recv % 1000:03d}Z",
            "properties": props,
            "context": ctx,
            "user_properties": uprops,
        }
        if v2:
            ev["attribution"] = attr
            ev["ml_features"] = None
        self.seq += 1
        self.out.append((recv, self.seq, ev))

    # -- one day -------------------------------------------------------------------------

    def day(self, d: int) -> list[Line]:
        self.out = []
        w = self.w
        prefix = day_prefix(w.start, d)
        today = w.start + timedelta(days=d)
        weekend = today.weekday() >= 5
        month = today.strftime("%Y-%m")
        users = w.users
        for t in w.tenants:
            if d < t.created_day or d >= t.churn_day + 1:
                continue
            n0 = len(self.out)
            plan, _ = t.state(d)
            v2 = d >= t.v2_day
            self._billing(t, d, prefix, today, v2)
            if d < t.churn_day:
                for idx in t.users:
                    self._user_day(users[idx], t, d, prefix, plan, v2, weekend)
                if t.heavy:
                    self._api_traffic(t, d, prefix, plan, v2)
            key = (t.tenant_id, month)
            self.month_counts[key] = self.month_counts.get(key, 0) + len(self.out) - n0
        for u in self.invites.get(d, ()):
            self._invite(u, d, prefix)
        return self.out

    def _user_day(
        self, u: User, t: Tenant, d: int, prefix: str, plan: str, v2: bool, weekend: bool
    ) -> None:
        r = self.r
        if d < u.signup_day or u.gap[0] <= d < u.gap[1]:
            return
        if d >= u.stop_day:
            # Churned users still open some product emails for a while: passive, not active.
            since = d - u.stop_day
            if since < 60 and r.random() < 0.05 * (1.0 - since / 60):
                self._email_open(u, t, d, prefix, plan, v2, "re_engagement")
            return
        if r.random() < 0.025:
            self._email_open(u, t, d, prefix, plan, v2, None)
        signup_today = d == u.signup_day and not u.pre_existing
        onb = u.onboarding
        pos = self.onb_pos[u.idx]
        onb_due = pos < len(onb) and onb[pos][0] <= d
        consent_due = (
            u.consent_change is not None
            and not self.consent_done[u.idx]
            and u.consent_change[0] <= d
        )
        p = u.base_p * (0.18 if weekend else 1.0)
        if t.lull[0] <= d < t.lull[1]:
            p *= LULL_FACTOR
        fading = d >= u.fade_start
        progress = 0.0
        if fading:
            progress = (d - u.fade_start + 1) / max(1, u.stop_day - u.fade_start + 1)
            p *= max(0.06, 1.0 - progress) ** 1.5
        elif d - u.signup_day < 10 and not u.pre_existing:
            p = min(0.95, p * 1.6)
        if not (signup_today or onb_due or r.random() < p):
            return

        uprops = self._user_props(u, t, plan)
        n_sessions = 1
        scale = u.events_scale * (1.0 - 0.6 * progress)
        if r.random() < 0.45 * scale:
            n_sessions += 1
            if r.random() < 0.3 * scale:
                n_sessions += 1
        features = [(f, FEATURE_BY_NAME[f].weight) for f, ad in u.adoption.items() if ad <= d]
        if not features:
            features = [("dashboards", 1.0)]
        if progress > 0.35 and len(features) > 2:
            # fading users narrow down to their one or two habitual features
            features.sort(key=lambda fw: (-fw[1], fw[0]))
            features = features[:2]
        fnames = [f for f, _ in features]
        fweights = [wt for _, wt in features]
        starts = sorted(
            ((HOUR_TABLE[r.getrandbits(12)] - t.tz_offset) % 24) * 3_600_000
            + r.randrange(3_600_000)
            for _ in range(n_sessions)
        )
        ua, device_type, browser, os_ = u.device
        last_end = -1
        for k, start_ms in enumerate(starts):
            ms = max(start_ms, last_end + 60_000)
            if ms >= DAY_MS - 60_000:
                break
            sid = short_id("ses", self.w.seed, u.idx, d, k, hex_len=16)
            if signup_today and k == 0:
                channel = u.first_touch
            else:
                channel = "direct" if r.random() < 0.7 else r.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
            attr = self._attribution(channel, u.first_touch) if v2 else None
            referrer = r.choice(EXTERNAL_REFERRERS)
            session_start = ms
            seq: list[tuple[str, dict, str | None]] = []
            # (name, properties, page) in order; pages feed context.page_url / referrer
            if signup_today and k == 0:
                seq.append(("user.signed_up", {
                    "signup_method": u.signup_method,
                    "invited_by": u.invited_by,
                    "consent": u.consent,
                }, PAGE["user.signed_up"]))
            seq.append(("session.started", {}, PAGE["session.started"]))
            if k == 0 and not signup_today and r.random() < 0.65:
                seq.append(("user.logged_in", {"method": u.signup_method}, PAGE["user.logged_in"]))
            if k == 0:
                while pos < len(onb) and onb[pos][0] <= d:
                    step = onb[pos][1]
                    if step == "__completed__":
                        seq.append(("onboarding.completed", {
                            "days_since_signup": d - u.signup_day,
                        }, PAGE["onboarding.completed"]))
                    else:
                        seq.append(("onboarding.step_completed", {
                            "step": step,
                        }, PAGE["onboarding.step_completed"]))
                    pos += 1
                self.onb_pos[u.idx] = pos
                if consent_due:
                    assert u.consent_change is not None
                    seq.append(("user.consent_updated", {
                        "consent": u.consent_change[1],
                    }, PAGE["user.consent_updated"]))
                    self.consent_done[u.idx] = True
                if (
                    u.integration is not None
                    and not self.integration_done[u.idx]
                    and u.integration[0] <= d
                ):
                    seq.append(("integration.connected", {
                        "integration": u.integration[1],
                    }, PAGE["integration.connected"]))
                    self.integration_done[u.idx] = True
            n_feat = 1 + int(r.expovariate(1.0 / (1.7 * scale + 0.2)))
            for fname in r.choices(fnames, fweights, k=n_feat):
                seq.append(("feature.used", {
                    "feature_name": fname,
                    "feature_category": FEATURE_CATEGORY[fname],
                    "usage_duration": USAGE_SECONDS[r.getrandbits(12)],
                }, FEATURE_PAGE[fname]))
            if "reports" in fnames and r.random() < 0.16:
                seq.append(("report.exported", {
                    "format": r.choice(EXPORT_FORMATS),
                }, PAGE["report.exported"]))
            if r.random() < 0.05 * scale:
                seq.append(("dashboard.shared", {
                    "shared_with": r.choice(("user", "team", "public_link")),
                }, PAGE["dashboard.shared"]))
            if r.random() < u.ticket_rate * (1.0 + 2.0 * progress):
                seq.append(("support.ticket_created", {
                    "priority": r.choice(TICKET_PRIORITY),
                }, PAGE["support.ticket_created"]))
            prev_url = referrer
            ctx_cache = u.ctx_cache
            for name, props, page in seq:
                # contexts repeat (same device, few pages), so they are shared, not rebuilt
                ctx = ctx_cache.get((page, prev_url))
                if ctx is None:
                    ctx = {
                        "page_url": page,
                        "user_agent": ua,
                        "ip_address": u.ip,
                        "referrer": prev_url,
                        "device_type": device_type,
                        "browser": browser,
                        "os": os_,
                    }
                    ctx_cache[(page, prev_url)] = ctx
                prev_url = page
                # ~3% of client events lose their session id (SDK bug, blocked storage)
                s = sid if r.random() >= 0.03 else None
                self._emit(prefix, u, t, v2, uprops, name, ms, props, s, ctx, attr)
                if name == "feature.used":
                    ms += props["usage_duration"] * 1000 + FEATURE_GAP_MS[r.getrandbits(12)]
                else:
                    ms += GAP_MS[r.getrandbits(12)]
            ended = {"duration_seconds": (ms - session_start) // 1000}
            ctx = {
                "page_url": prev_url, "user_agent": ua, "ip_address": u.ip, "referrer": None,
                "device_type": device_type, "browser": browser, "os": os_,
            }
            s = sid if r.random() >= 0.03 else None
            self._emit(prefix, u, t, v2, uprops, "session.ended", ms, ended, s, ctx, attr)
            last_end = ms

    def _email_open(
        self, u: User, t: Tenant, d: int, prefix: str, plan: str, v2: bool, campaign: str | None
    ) -> None:
        r = self.r
        hour = (r.choices(HOURS, HOUR_WEIGHTS)[0] - t.tz_offset) % 24
        props = {"campaign": campaign or r.choice(EMAIL_CAMPAIGNS), "email_client": r.choice(
            ("gmail", "outlook", "apple_mail"))}
        self._emit(prefix, u, t, v2, self._user_props(u, t, plan), "notification.email_opened",
                   hour * 3_600_000 + r.randrange(3_600_000), props, None, None, None)

    def _invite(self, invitee: User, d: int, prefix: str) -> None:
        inviter = self.by_uid[invitee.invited_by or ""]
        t = self.w.tenants[inviter.tenant]
        plan, _ = t.state(d)
        ua, device_type, browser, os_ = inviter.device
        ctx = {
            "page_url": PAGE["user.invited"], "user_agent": ua, "ip_address": inviter.ip,
            "referrer": APP + "/home", "device_type": device_type, "browser": browser, "os": os_,
        }
        ms = 7 * 3_600_000 + self.r.randrange(3 * 3_600_000)
        self._emit(prefix, inviter, t, d >= t.v2_day, self._user_props(inviter, t, plan),
                   "user.invited", ms, {"invitee_email": invitee.email, "role": invitee.role},
                   None, ctx, None)

    def _billing(self, t: Tenant, d: int, prefix: str, today, v2: bool) -> None:
        if d < 0 or t.admin < 0:
            return
        admin = self.w.users[t.admin]
        r = self.r
        ms = ((10 - t.tz_offset) % 24) * 3_600_000 + r.randrange(3_600_000)

        def emit(name: str, props: dict) -> None:
            plan_now, _ = t.state(d)
            self._emit(prefix, admin, t, v2, self._user_props(admin, t, plan_now), name, ms,
                       props, None, None, None)

        if d == t.churn_day:
            plan, seats = t.state(d)
            emit("billing.subscription_cancelled", {
                "plan": plan, "seats": seats, "mrr_lost": t.mrr(d - 1),
                "reason": r.choice(CANCEL_REASONS),
            })
            return
        for day, plan, seats in t.changes[1:]:
            if day != d:
                continue
            prev_plan, prev_seats = t.state(d - 1)
            if plan != prev_plan:
                up = PLANS[plan].rank > PLANS[prev_plan].rank
                emit("billing.plan_upgraded" if up else "billing.plan_downgraded", {
                    "from_plan": prev_plan, "to_plan": plan, "seats": seats, "mrr": t.mrr(d),
                })
            else:
                emit("billing.seats_changed", {
                    "plan": plan, "from_seats": prev_seats, "to_seats": seats, "mrr": t.mrr(d),
                })
        if t.status(d) == "active":
            anchor = t.trial_end_day
            anchor_dom = min(28, (self.w.start + timedelta(days=anchor)).day)
            if d == anchor or (d > anchor and today.day == anchor_dom):
                amount = t.mrr(d)
                emit("billing.payment_completed", {
                    "amount": amount, "currency": "USD", "plan": t.state(d)[0],
                    "invoice_id": short_id("inv", self.w.seed, t.idx, d),
                })

    def _api_traffic(self, t: Tenant, d: int, prefix: str, plan: str, v2: bool) -> None:
        # Machine traffic sized against the plan's quota: a baseline, then a surge month.
        r = self.r
        admin = self.w.users[t.admin]
        uprops = self._user_props(admin, t, plan)
        per_day = PLANS[plan].monthly_event_limit / 30.0
        level = 1.1 if t.surge[0] <= d < t.surge[1] else 0.1
        spread = r.uniform(0.92, 1.08)
        if t.at_limit:
            # At the limit, not over it: the month's days share the limit evenly.
            today = self.w.start + timedelta(days=d)
            month_days = ((today.replace(day=28) + timedelta(days=4)).replace(day=1)
                          - timedelta(days=1)).day
            per_day = PLANS[plan].monthly_event_limit / month_days
            level, spread = t.at_limit, r.uniform(0.97, 0.995)
        n = int(per_day * level * spread)
        emit = self._emit
        rnd = r.random
        bits = r.getrandbits
        span = DAY_MS - 5000
        for ms in sorted([int(rnd() * span) for _ in range(n)]):
            method, path = API_ENDPOINTS[bits(12) % len(API_ENDPOINTS)]
            props = {
                "method": method,
                "endpoint": path,
                "status_code": 200 if rnd() < 0.985 else 429,
                "duration_ms": 20 + FEATURE_GAP_MS[bits(12)] // 100,
            }
            emit(prefix, admin, t, v2, uprops, "api.request_completed", ms, props, None, None,
                 None)
