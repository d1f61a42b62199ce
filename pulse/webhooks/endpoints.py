"""Endpoints: where a tenant's webhooks go, what they subscribe to, and their secrets.

Secrets are stored encrypted (pulse/webhooks/secret_store.py), only read by `live_secrets`
(to sign) and shown once, when created; listings never select them.
"""

from __future__ import annotations

import json
import math
import secrets as _secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pulse.warehouse import transaction
from pulse.webhooks import secret_store
from pulse.webhooks.settings import WebhookSettings, webhook_settings
from pulse.webhooks.signing import Secret, new_secret
from pulse.webhooks.urlguard import Resolver, check_url, system_resolver

EVENT_TYPES = ("user.at_risk", "tenant.daily_digest", "usage.quota_exceeded")
# The old secret keeps signing this long after a rotation, so receivers can switch over.
ROTATION_OVERLAP = timedelta(hours=24)
# Requests per second an endpoint may ask for (the deliverer keeps old rows in this range).
MIN_RATE, MAX_RATE, DEFAULT_RATE = 0.01, 10_000.0, 10.0
MAX_BATCH_SIZE = 1000  # delivery.endpoints' check
# A filter is matched with jsonb @> on every message: small and shallow is plenty.
MAX_FILTER_DEPTH = 16
MAX_FILTER_BYTES = 16 * 1024


class EndpointError(ValueError):
    """An endpoint request that cannot be done; the message says what to do instead."""


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    tenant_id: str
    url: str
    event_types: list[str]
    filter: dict
    enabled: bool
    disabled_reason: str | None
    disabled_detail: str | None
    rate_limit_per_second: float
    max_batch_size: int | None
    failing_since: datetime | None


ENDPOINT_COLUMNS = ("endpoint_id, tenant_id, url, event_types, filter, enabled, disabled_reason, "
                    "disabled_detail, rate_limit_per_second, max_batch_size, failing_since")


def add(tenant_id: str, url: str, *, event_types: list[str] | None = None,
        filter: dict | None = None, rate_limit_per_second: float = DEFAULT_RATE,
        max_batch_size: int | None = None, secret: Secret | None = None,
        endpoint_id: str | None = None, settings: WebhookSettings | None = None,
        resolve: Resolver = system_resolver) -> tuple[Endpoint, Secret]:
    """Create an endpoint; returns it with its secret (the only time the secret is shown)."""
    settings = settings or webhook_settings()
    types = event_types or ["*"]
    unknown = [t for t in types if t != "*" and t not in EVENT_TYPES]
    if unknown:
        raise EndpointError(f"unknown event type(s) {unknown}: choose from "
                            f"{', '.join(EVENT_TYPES)} or *")
    if not (isinstance(rate_limit_per_second, int | float)
            and math.isfinite(rate_limit_per_second)
            and MIN_RATE <= rate_limit_per_second <= MAX_RATE):
        raise EndpointError(f"the rate limit {rate_limit_per_second!r} is not allowed: give "
                            f"requests per second between {MIN_RATE:g} and {MAX_RATE:g}")
    if max_batch_size is not None and not (isinstance(max_batch_size, int)
                                           and 1 <= max_batch_size <= MAX_BATCH_SIZE):
        raise EndpointError(f"the batch size {max_batch_size!r} is not allowed: give "
                            f"1 to {MAX_BATCH_SIZE} events per request")
    filter_json = check_filter(filter or {})
    # Last, as it may ask DNS: refuse now rather than at the first delivery.
    check_url(url, settings, resolve)
    secret = secret or new_secret()
    endpoint_id = endpoint_id or "ep_" + _secrets.token_hex(8)
    with transaction() as conn, conn.cursor() as cur:
        cur.execute(
            "insert into delivery.endpoints (endpoint_id, tenant_id, url, event_types, "
            "filter, rate_limit_per_second, max_batch_size) "
            "values (%s, %s, %s, %s, %s, %s, %s)",
            (endpoint_id, tenant_id, url, types, filter_json,
             rate_limit_per_second, max_batch_size))
        secret_store.store(cur, endpoint_id, secret)
    return get(endpoint_id), secret


def parse_filter(text: str) -> dict:
    """A filter given as JSON text (the CLI's --filter); EndpointError if unusable."""
    def no_constant(name: str) -> None:
        raise EndpointError(f"the filter contains {name}: JSON has no such number; "
                            "give a finite number")

    if len(text) > MAX_FILTER_BYTES:
        raise EndpointError(f"the filter is {len(text)} characters long: at most "
                            f"{MAX_FILTER_BYTES}")
    _check_depth_text(text)
    try:
        value = json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise EndpointError(f"the filter is not JSON: {exc}") from None
    check_filter(value)
    return value


def check_filter(value: object) -> str:
    """The filter as JSON for delivery.endpoints.filter; EndpointError (with the reason)
    for anything but a small JSON object of finite numbers, strings, booleans and nulls."""
    if not isinstance(value, dict):
        raise EndpointError("the filter must be a JSON object, e.g. {\"risk_band\": \"high\"}")
    # Walked without recursion, so 5,000 levels of nesting are an error, not a crash.
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_FILTER_DEPTH:
            raise EndpointError(f"the filter is nested more than {MAX_FILTER_DEPTH} levels "
                                "deep")
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                raise EndpointError("the filter's keys must be strings")
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise EndpointError(f"the filter contains {item}: give a finite number "
                                "(1e999 is infinite)")
        elif not (item is None or isinstance(item, str | bool | int | float)):
            raise EndpointError(f"the filter contains a {type(item).__name__}: only JSON "
                                "values are allowed")
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_FILTER_BYTES:
        raise EndpointError(f"the filter is {len(text)} bytes as JSON: at most "
                            f"{MAX_FILTER_BYTES}")
    return text


def _check_depth_text(text: str) -> None:
    # json.loads recurses per level: refuse deep nesting before parsing.
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_FILTER_DEPTH:
                raise EndpointError(f"the filter is nested more than {MAX_FILTER_DEPTH} "
                                    "levels deep")
        elif ch in "]}":
            depth -= 1


def get(endpoint_id: str) -> Endpoint:
    found = list_endpoints(endpoint_id=endpoint_id)
    if not found:
        raise EndpointError(f"no endpoint {endpoint_id}: see `pulse webhooks endpoints list`")
    return found[0]


def list_endpoints(tenant_id: str | None = None, endpoint_id: str | None = None
                   ) -> list[Endpoint]:
    with transaction() as conn, conn.cursor() as cur:
        cur.execute(
            f"select {ENDPOINT_COLUMNS} from delivery.endpoints "
            "where (%s::text is null or tenant_id = %s) "
            "and (%s::text is null or endpoint_id = %s) order by tenant_id, created_at",
            (tenant_id, tenant_id, endpoint_id, endpoint_id))
        return [Endpoint(*row) for row in cur.fetchall()]


def disable(endpoint_id: str, reason: str = "manual", detail: str | None = None) -> None:
    _set_enabled(endpoint_id, False, reason, detail)


def enable(endpoint_id: str) -> None:
    _set_enabled(endpoint_id, True, None, None)


def _set_enabled(endpoint_id: str, enabled: bool, reason: str | None,
                 detail: str | None) -> None:
    with transaction() as conn, conn.cursor() as cur:
        cur.execute(
            "update delivery.endpoints set enabled = %s, disabled_reason = %s, "
            "disabled_detail = %s, disabled_at = case when %s then null else now() end, "
            "failing_since = case when %s then null else failing_since end "
            "where endpoint_id = %s",
            (enabled, reason, detail, enabled, enabled, endpoint_id))
        if cur.rowcount == 0:
            raise EndpointError(f"no endpoint {endpoint_id}: see "
                                "`pulse webhooks endpoints list`")


def rotate(endpoint_id: str, overlap: timedelta = ROTATION_OVERLAP) -> Secret:
    """A new secret; the current ones keep signing for `overlap`, then expire. With no
    overlap they are deleted at once: a leaked secret stops signing now."""
    get(endpoint_id)
    if overlap < timedelta(0):
        raise EndpointError("the overlap cannot be negative: 0 revokes the old secret at once")
    secret = new_secret()
    with transaction() as conn, conn.cursor() as cur:
        if overlap == timedelta(0):
            cur.execute("delete from delivery.endpoint_secrets where endpoint_id = %s",
                        (endpoint_id,))
        else:
            cur.execute("update delivery.endpoint_secrets set expires_at = now() + %s "
                        "where endpoint_id = %s and (expires_at is null or expires_at > "
                        "now() + %s)", (overlap, endpoint_id, overlap))
        secret_store.store(cur, endpoint_id, secret)
    return secret


def live_secrets(cur, endpoint_ids: list[str]) -> dict[str, list[Secret]]:
    """The secrets that sign for each endpoint now, newest first."""
    return secret_store.live_secrets(cur, endpoint_ids)
