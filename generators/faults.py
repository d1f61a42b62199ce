"""Dirty mode: extra lines derived from real events, never replacements.

All choices come from a separate RNG stream, so the clean events (and their ids) are the
same with or without faults; only received_at of late events and the extra lines differ.
"""

from __future__ import annotations

import random

import orjson

from .ids import DAY_MS, EventIds, day_prefix, iso, short_id, sub_seed

# Named as the loader's quarantine reasons, so a test can compare the two tallies.
FAULT_KINDS: tuple[str, ...] = (
    "malformed_json", "not_an_object", "missing_field", "wrong_type", "unknown_tenant",
)
REQUIRED_FIELDS: tuple[str, ...] = ("event_id", "tenant_id", "user_id", "event_name", "timestamp")
GARBAGE: tuple[bytes, ...] = (
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b"{\"event_id\": \"",
    b"ok",
)
# Valid JSON, but not an event object.
NOT_OBJECTS: tuple[bytes, ...] = (b"null", b"[]", b"\"event\"", b"42")

# kind: "valid" | "dup" | "late" | one of FAULT_KINDS
Placed = tuple[int, int, int, object, str]  # (received ms, seq, sub-order, dict|bytes, kind)


class FaultInjector:
    def __init__(self, seed: int, rate: float, days: int, start, tenant_ids: set[str]) -> None:
        self.rate = rate
        self.days = days
        self.start = start
        self.r = random.Random(sub_seed(seed, "faults"))
        self.ids = EventIds(seed, "fault")
        self.pending: dict[int, list[Placed]] = {}
        ghosts = []
        k = 0
        while len(ghosts) < 3:
            g = short_id("ten", seed, "ghost", k)
            if g not in tenant_ids:
                ghosts.append(g)
            k += 1
        self.ghosts = tuple(ghosts)

    def place(self, d: int, lines: list[tuple[int, int, dict]]) -> list[Placed]:
        """Everything that goes into day d's file: its own events plus what arrives late."""
        out: list[Placed] = self.pending.pop(d, [])
        r = self.r
        rate = self.rate
        last = self.days - 1
        for recv, seq, ev in lines:
            if rate <= 0:
                out.append((recv, seq, 0, ev, "valid"))
                continue
            if d + 2 <= last and r.random() < rate:
                # an SDK that was offline flushes its queue days later
                target = d + r.randint(2, min(6, last - d))
                new_recv = r.randrange(DAY_MS)
                ev["received_at"] = iso(day_prefix(self.start, target), new_recv)
                self.pending.setdefault(target, []).append((new_recv, seq, 0, ev, "late"))
                continue
            out.append((recv, seq, 0, ev, "valid"))
            if r.random() < rate:
                self._duplicate(d, recv, seq, ev, out)
            if r.random() < rate:
                kind = r.choice(FAULT_KINDS)
                out.append((recv, seq, 2, self._fault(kind, ev), kind))
        return out

    def _duplicate(self, d: int, recv: int, seq: int, ev: dict, out: list[Placed]) -> None:
        r = self.r
        later = recv + 1000 + r.randrange(600_000)
        if later < DAY_MS and (d + 1 > self.days - 1 or r.random() < 0.6):
            dup = {**ev, "received_at": iso(day_prefix(self.start, d), later)}
            out.append((later, seq, 1, dup, "dup"))
        elif d + 1 <= self.days - 1:
            later = r.randrange(3_600_000)
            dup = {**ev, "received_at": iso(day_prefix(self.start, d + 1), later)}
            self.pending.setdefault(d + 1, []).append((later, seq, 1, dup, "dup"))

    def _fault(self, kind: str, ev: dict) -> bytes:
        r = self.r
        bad = {**ev, "event_id": self.ids.next()}
        if kind == "not_an_object":
            return r.choice(NOT_OBJECTS)
        if kind == "malformed_json":
            if r.random() < 0.3:
                return r.choice(GARBAGE)
            text = orjson.dumps(bad).decode()
            # cutting a JSON object anywhere before its last brace leaves it unparseable
            return text[: r.randrange(len(text) // 4, len(text) - 1)].encode()
        if kind == "missing_field":
            del bad[r.choice(REQUIRED_FIELDS)]
        elif kind == "wrong_type":
            which = r.choice(("timestamp", "user_id", "properties", "event_id"))
            if which == "timestamp":
                bad["timestamp"] = 1_767_225_600_000 + r.randrange(10**10)
            elif which == "user_id":
                bad["user_id"] = int(ev["user_id"][4:], 16)
            elif which == "properties":
                bad["properties"] = orjson.dumps(ev["properties"]).decode()
            else:
                bad["event_id"] = r.randrange(10**12)
        else:
            bad["tenant_id"] = r.choice(self.ghosts)
        return orjson.dumps(bad)
