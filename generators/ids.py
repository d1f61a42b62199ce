"""Deterministic ids and timestamp formatting.

Every id is a keyed hash of the seed and the thing it names, so the same arguments give
the same ids on every machine and Python build (no uuid4, no clock, no salted hash()).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from hashlib import blake2b

DAY_MS = 86_400_000


def digest(seed: int, *parts: object, size: int = 16) -> bytes:
    key = "|".join([str(seed), *map(str, parts)]).encode()
    return blake2b(key, digest_size=size).digest()


def short_id(prefix: str, seed: int, *parts: object, hex_len: int = 8) -> str:
    return f"{prefix}_{digest(seed, prefix, *parts, size=(hex_len + 1) // 2).hex()[:hex_len]}"


def sub_seed(seed: int, *parts: object) -> int:
    """A 64-bit seed for an independent RNG stream named by parts."""
    return int.from_bytes(digest(seed, "rng", *parts, size=8), "big")


def rng(seed: int, *parts: object) -> random.Random:
    return random.Random(sub_seed(seed, *parts))


class EventIds:
    """UUID-formatted (version 4 layout) event ids from a seeded stream named by `stream`.

    Ids come in blocks of random bytes from a dedicated Random: one hex conversion per
    block instead of one hash per event keeps this off the hot path's profile.
    """

    __slots__ = ("_hex", "_pos", "_r")

    _BLOCK = 4096

    def __init__(self, seed: int, stream: str) -> None:
        self._r = random.Random(sub_seed(seed, "event-ids", stream))
        self._hex = ""
        self._pos = 0

    def refill(self) -> str:
        self._hex = self._r.randbytes(16 * self._BLOCK).hex()
        self._pos = 0
        return self._hex

    def next(self) -> str:
        i = self._pos
        x = self._hex
        if i >= len(x):
            x = self.refill()
            i = 0
        self._pos = i + 32
        return (
            f"{x[i:i + 8]}-{x[i + 8:i + 12]}-4{x[i + 13:i + 16]}"
            f"-{x[i + 16:i + 20]}-{x[i + 20:i + 32]}"
        )


def day_prefix(start: date, day: int) -> str:
    return (start + timedelta(days=day)).isoformat() + "T"


# "HH:MM:SS" for every second of a day: formatting timestamps is on the hot path.
HMS: tuple[str, ...] = tuple(
    f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)
)


def iso(prefix: str, ms: int) -> str:
    """prefix is 'YYYY-MM-DDT'; ms is milliseconds since that day's midnight UTC."""
    return f"{prefix}{HMS[ms // 1000]}.{ms % 1000:03d}Z"
