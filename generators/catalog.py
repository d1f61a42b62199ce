"""Static vocabulary of the generator: event names, features, plans, size presets.

dbt_project/seeds/event_catalog.csv and feature_catalog.csv are the downstream copies of
EVENTS and FEATURES; tests/test_generator.py keeps the three in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    category: str
    counts_as_active: bool
    description: str


EVENTS: tuple[EventType, ...] = (
    EventType("user.signed_up", "acquisition", True, "A user created their account"),
    EventType("user.logged_in", "engagement", True, "A user logged in"),
    EventType("user.invited", "collaboration", True, "A user invited a colleague by email"),
    EventType(
        "user.consent_updated", "privacy", False, "A user changed their data-processing consent"
    ),
    EventType("session.started", "engagement", True, "The web app opened a session"),
    EventType("session.ended", "engagement", False, "A session closed; carries its duration"),
    EventType(
        "onboarding.step_completed", "activation", True, "A user finished one onboarding step"
    ),
    EventType("onboarding.completed", "activation", True, "A user finished onboarding"),
    EventType(
        "integration.connected", "activation", True, "A user connected a third-party integration"
    ),
    EventType("feature.used", "engagement", True, "A user used a product feature"),
    EventType("report.exported", "engagement", True, "A user exported a report"),
    EventType("dashboard.shared", "collaboration", True, "A user shared a dashboard"),
    EventType("support.ticket_created", "support", True, "A user opened a support ticket"),
    EventType(
        "notification.email_opened",
        "engagement",
        False,
        "A product email was opened (tracking pixel; passive: not activity in the app)",
    ),
    EventType(
        "api.request_completed",
        "integration",
        False,
        "A server-to-server API call made with the user's API key (machine traffic)",
    ),
    EventType("billing.plan_upgraded", "billing", False, "The tenant moved to a higher plan"),
    EventType("billing.plan_downgraded", "billing", False, "The tenant moved to a lower plan"),
    EventType(
        "billing.seats_changed", "billing", False, "The tenant changed its licensed seat count"
    ),
    EventType(
        "billing.payment_completed", "billing", False, "A monthly subscription payment succeeded"
    ),
    EventType(
        "billing.subscription_cancelled", "billing", False, "The tenant cancelled its subscription"
    ),
)

EVENT_NAMES: frozenset[str] = frozenset(e.name for e in EVENTS)


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    category: str
    is_core: bool
    description: str
    # Share of users on starter / professional / enterprise who ever adopt it.
    adoption: tuple[float, float, float]
    # Mean days from signup to first use: core features are found at once, advanced ones late.
    delay_days: float
    # Relative frequency among the feature.used events of a user who has adopted it.
    weight: float
    page: str


FEATURES: tuple[Feature, ...] = (
    Feature("dashboards", "visualization", True, "Build and view dashboards",
            (0.97, 0.98, 0.99), 0.5, 10.0, "/dashboards"),
    Feature("reports", "reporting", True, "Saved reports and tables",
            (0.85, 0.90, 0.93), 2.0, 6.0, "/reports"),
    Feature("data_explorer", "analysis", True, "Ad-hoc query builder",
            (0.70, 0.80, 0.85), 3.0, 6.0, "/explore"),
    Feature("alerts", "monitoring", True, "Threshold alerts on metrics",
            (0.55, 0.65, 0.72), 6.0, 3.0, "/alerts"),
    Feature("comments", "collaboration", False, "Comments and mentions on dashboards",
            (0.30, 0.45, 0.55), 10.0, 2.0, "/dashboards/comments"),
    Feature("integrations", "integration", False, "Manage connected data sources",
            (0.30, 0.45, 0.60), 5.0, 1.5, "/settings/integrations"),
    Feature("scheduled_exports", "reporting", False, "Recurring exports by email or to storage",
            (0.12, 0.30, 0.45), 18.0, 1.5, "/reports/schedules"),
    Feature("api_access", "integration", False, "API keys and programmatic access",
            (0.06, 0.22, 0.45), 20.0, 1.5, "/settings/api"),
    Feature("anomaly_detection", "monitoring", False, "Automatic anomaly detection on metrics",
            (0.05, 0.15, 0.30), 25.0, 1.5, "/alerts/anomalies"),
    Feature("ai_insights", "analysis", False, "Generated insights and summaries",
            (0.06, 0.18, 0.30), 30.0, 1.5, "/insights"),
    Feature("sso", "security", False, "SAML / OIDC single sign-on settings",
            (0.00, 0.03, 0.55), 8.0, 0.4, "/settings/sso"),
    Feature("custom_branding", "administration", False, "White-label logo and domain",
            (0.00, 0.02, 0.40), 14.0, 0.4, "/settings/branding"),
)

FEATURE_NAMES: frozenset[str] = frozenset(f.name for f in FEATURES)


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    rank: int
    price: float  # USD per month, includes `included_seats`
    monthly_event_limit: int
    max_seats: int | None  # None: unlimited
    included_seats: int
    seat_price: float  # USD per month per seat above included_seats


PLANS: dict[str, Plan] = {
    "starter": Plan("starter", 0, 99.0, 100_000, 5, 3, 15.0),
    "professional": Plan("professional", 1, 299.0, 1_000_000, 25, 10, 12.0),
    "enterprise": Plan("enterprise", 2, 999.0, 10_000_000, None, 30, 10.0),
}
PLAN_ORDER: tuple[str, ...] = ("starter", "professional", "enterprise")


def mrr_for(plan: str, seats: int, discount: float) -> float:
    p = PLANS[plan]
    gross = p.price + max(0, seats - p.included_seats) * p.seat_price
    return round(gross * (1.0 - discount), 2)


ONBOARDING_STEPS: tuple[str, ...] = (
    "profile_completed",
    "workspace_created",
    "data_source_added",
    "first_dashboard_created",
    "teammate_invited",
)

INTEGRATIONS: tuple[str, ...] = (
    "salesforce", "hubspot", "slack", "snowflake", "bigquery", "stripe", "segment", "zendesk",
)

INDUSTRIES: tuple[str, ...] = (
    "fintech", "healthcare", "ecommerce", "education", "media", "logistics", "manufacturing",
    "saas", "real_estate", "nonprofit",
)

# (company_size label, weight per plan starter/professional/enterprise)
COMPANY_SIZES: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("1-10", (0.45, 0.05, 0.0)),
    ("11-50", (0.40, 0.30, 0.02)),
    ("51-200", (0.13, 0.45, 0.18)),
    ("201-500", (0.02, 0.15, 0.35)),
    ("501-1000", (0.0, 0.05, 0.25)),
    ("1001-5000", (0.0, 0.0, 0.20)),
)

ROLES: tuple[str, ...] = ("owner", "admin", "analyst", "viewer")

# name -> (tenants, users, days)
SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (3, 60, 10),
    "demo": (20, 2000, 90),
    "peer": (50, 6000, 180),
    "xl": (200, 40000, 31),
}

# Presets with one Enterprise tenant at its plan's monthly event limit: the share of the
# limit it sends (docs/scale-out.md: the xl data set).
AT_LIMIT: dict[str, float] = {"xl": 1.0}
