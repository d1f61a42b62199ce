"""Pulse's synthetic data generator: multi-tenant SaaS product events and billing exports.

    from generators import generate
    tally = generate(Path("data/landing"), seed=42, tenants=20, users=2000, days=90)
"""

from .catalog import AT_LIMIT, SIZES
from .core import OutputDirError, generate


def size_params(size: str, scale: float = 1.0) -> dict:
    """generate() keyword arguments of a preset size (tiny, demo, peer, xl). `scale` shrinks
    the users and the at-limit tenant's traffic (tenants and days stay) for trial runs."""
    tenants, users, days = SIZES[size]
    params: dict = {"tenants": tenants, "users": max(2 * tenants, round(users * scale)),
                    "days": days}
    if size in AT_LIMIT:
        params["at_limit"] = AT_LIMIT[size] * scale
    return params


__all__ = ["SIZES", "OutputDirError", "generate", "size_params"]
