"""Webhook delivery settings, read from the environment (declared in pulse.config.ENV_VARS)."""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass
from datetime import timedelta

from pulse.config import ENV_VARS

# Svix's schedule after the first (immediate) attempt: 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 10 h — eight attempts over about 27 hours.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)

# A request's whole exchange (connect, send, answer, body) must end within the timeout;
# more than this is never useful and would hold a batch's lease for too long.
MAX_TIMEOUT = 300.0

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _env(name: str) -> str | None:
    assert name in ENV_VARS, f"{name} must be declared in pulse.config.ENV_VARS"
    value = os.environ.get(name, "").strip()
    return value or None


class WebhookConfigError(ValueError):
    """A PULSE_WEBHOOK_* variable has a value that cannot be used."""


def _number(name: str, default: float, minimum: float, maximum: float = math.inf) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise WebhookConfigError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value) or not minimum <= value <= maximum:
        most = f" and at most {maximum:g}" if math.isfinite(maximum) else ""
        raise WebhookConfigError(f"{name}={raw!r} must be a number, at least {minimum:g}{most}")
    return value


# Ports a webhook may use unless PULSE_WEBHOOK_ALLOWED_PORTS says otherwise: https's own,
# and the unprivileged range (no SSH, SMTP, DNS, ... on a tenant's say-so).
DEFAULT_ALLOWED_PORTS: tuple[tuple[int, int], ...] = ((443, 443), (1024, 65535))


def parse_ports(raw: str) -> tuple[tuple[int, int], ...]:
    """`443,1024-65535` -> ((443, 443), (1024, 65535)); WebhookConfigError if malformed."""
    ranges: list[tuple[int, int]] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            lo, hi = int(low), int(high or low)
        except ValueError:
            lo = hi = -1
        if not 1 <= lo <= hi <= 65535:
            raise WebhookConfigError(
                f"PULSE_WEBHOOK_ALLOWED_PORTS: {part!r} is not a port or a range of ports "
                "(1-65535), e.g. 443,1024-65535")
        ranges.append((lo, hi))
    if not ranges:
        raise WebhookConfigError("PULSE_WEBHOOK_ALLOWED_PORTS is empty: list ports, "
                                 "e.g. 443,1024-65535")
    return tuple(ranges)


@dataclass(frozen=True)
class WebhookSettings:
    allow_http: bool = False
    allow_networks: tuple[Network, ...] = ()
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    timeout: float = 15.0
    max_batch: int = 50
    concurrency: int = 64
    disable_after_days: float = 5.0
    # Jitter spreads retries of many endpoints that failed together (±20 %, like Svix).
    jitter: float = 0.2
    allowed_ports: tuple[tuple[int, int], ...] = DEFAULT_ALLOWED_PORTS
    # After this many seconds a delivery run claims nothing more and gives back what it
    # claimed but did not send; the next run (five minutes later) carries on.
    max_run_seconds: float = 240.0

    def port_allowed(self, port: int) -> bool:
        return any(lo <= port <= hi for lo, hi in self.allowed_ports)

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule) + 1

    @property
    def lease(self) -> timedelta:
        """How long a claimed batch stays SENDING before another run may take it over:
        longer than any request can last, so a live worker is never overtaken."""
        return timedelta(seconds=self.timeout * 2 + 30)


def webhook_settings() -> WebhookSettings:
    """Read the environment now, so tests and the CLI can change it."""
    networks: list[Network] = []
    for part in (_env("PULSE_WEBHOOK_ALLOW_NETWORKS") or "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise WebhookConfigError(
                    f"PULSE_WEBHOOK_ALLOW_NETWORKS: {part.strip()!r} is not a CIDR "
                    "such as 127.0.0.0/8 or ::1/128") from None
    schedule = DEFAULT_RETRY_SCHEDULE
    raw = _env("PULSE_WEBHOOK_RETRY_SCHEDULE")
    if raw is not None:
        try:
            schedule = tuple(float(p) for p in raw.split(",") if p.strip())
        except ValueError:
            raise WebhookConfigError(
                f"PULSE_WEBHOOK_RETRY_SCHEDULE={raw!r}: give seconds, comma-separated, "
                "e.g. 5,300,1800") from None
        if any(not math.isfinite(s) or s < 0 for s in schedule):
            raise WebhookConfigError("PULSE_WEBHOOK_RETRY_SCHEDULE: delays cannot be negative")
    ports = _env("PULSE_WEBHOOK_ALLOWED_PORTS")
    return WebhookSettings(
        allowed_ports=parse_ports(ports) if ports else DEFAULT_ALLOWED_PORTS,
        max_run_seconds=_number("PULSE_WEBHOOK_MAX_RUN_SECONDS", 240.0, 1),
        allow_http=_env("PULSE_WEBHOOK_ALLOW_HTTP") in ("1", "true", "yes"),
        allow_networks=tuple(networks),
        retry_schedule=schedule,
        timeout=_number("PULSE_WEBHOOK_TIMEOUT", 15.0, 0.1, MAX_TIMEOUT),
        max_batch=int(_number("PULSE_WEBHOOK_MAX_BATCH", 50, 1)),
        concurrency=int(_number("PULSE_WEBHOOK_CONCURRENCY", 64, 1)),
        disable_after_days=_number("PULSE_WEBHOOK_DISABLE_AFTER_DAYS", 5.0, 0),
    )
