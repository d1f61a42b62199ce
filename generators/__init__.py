"""Pulse's synthetic data generator: multi-tenant SaaS product events and billing exports.

    from generators import generate
    tally = generate(Path("data/landing"), seed=42, tenants=20, users=2000, days=90)
"""

from .catalog import SIZES
from .core import OutputDirError, generate


def size_params(size: str) -> dict[str, int]:
    """generate() keyword arguments of a preset size (tiny, demo, peer)."""
    tenants, users, days = SIZES[size]
    return {"tenants": tenants, "users": users, "days": days}


__all__ = ["SIZES", "OutputDirError", "generate", "size_params"]
