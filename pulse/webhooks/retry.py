"""When a failed batch is tried again.

Svix's schedule: the first attempt at once, then retries 5 s, 5 min, 30 min, 2 h, 5 h,
10 h and 10 h after each failure (PULSE_WEBHOOK_RETRY_SCHEDULE changes it), each delay
±20 % at random so endpoints that failed together are not retried together. After the
last retry fails the batch is ABANDONED. A 429 or 503 with `Retry-After` waits at least
what the receiver asked (up to a day), within the same attempt budget.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from pulse.webhooks.settings import WebhookSettings

MAX_RETRY_AFTER = timedelta(days=1)


def retry_delay(attempt: int, settings: WebhookSettings,
                rng: random.Random | None = None) -> timedelta | None:
    """The wait after failed attempt number `attempt` (1-based), or None: give up."""
    if attempt >= settings.max_attempts:
        return None
    base = settings.retry_schedule[attempt - 1]
    spread = (rng or random).uniform(-settings.jitter, settings.jitter)
    return timedelta(seconds=max(0.0, base * (1 + spread)))


def parse_retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """`Retry-After` as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        wait = when - (now or datetime.now(UTC))
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)
