"""Webhook delivery settings, read from the environment (declared in pulse.config.ENV_VARS)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import timedelta

from pulse.config import ENV_VARS

# Svix's schedule after the first (immediate) attempt: 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 10 h — eight attempts over about 27 hours.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _env(name: str) -> str | None:
    assert name in ENV_VARS, f"{name} must be declared in pulse.config.ENV_VARS"
    value = os.environ.get(name, "").strip()
    return value or None


class WebhookConfigError(ValueError):
    """A PULSE_WEBHOOK_* variable has a value that cannot be used."""


def _number(name: str, default: float, minimum: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise WebhookConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise WebhookConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


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
        if any(s < 0 for s in schedule):
            raise WebhookConfigError("PULSE_WEBHOOK_RETRY_SCHEDULE: delays cannot be negative")
    return WebhookSettings(
        allow_http=_env("PULSE_WEBHOOK_ALLOW_HTTP") in ("1", "true", "yes"),
        allow_networks=tuple(networks),
        retry_schedule=schedule,
        timeout=_number("PULSE_WEBHOOK_TIMEOUT", 15.0, 0.1),
        max_batch=int(_number("PULSE_WEBHOOK_MAX_BATCH", 50, 1)),
        concurrency=int(_number("PULSE_WEBHOOK_CONCURRENCY", 64, 1)),
        disable_after_days=_number("PULSE_WEBHOOK_DISABLE_AFTER_DAYS", 5.0, 0),
    )
