"""The loader's suppression of erased subjects (docs/privacy.md, "Erasure").

Landing files are immutable: after an erasure, a later load or reload of a file that holds
the subject's lines must leave them out. A `Suppressor` holds the erased subjects' keyed
hashes (`suppressor_of`); the loader asks it about each line, and replaces an erased
user's id where another user's event names them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pulse.privacy.keys import pii_key

# What an erased user's id becomes where it stays in someone else's row.
ERASED = "erased"


class Suppressed(Exception):
    """A line of an erased subject: not loaded, not quarantined, counted."""


@dataclass(frozen=True)
class Suppressor:
    """Whether a (tenant, user) line belongs to an erased subject, by keyed hash."""

    tenants: frozenset[str]  # tenant hashes erased whole
    users: frozenset[tuple[str, str]]  # (tenant hash, user hash)

    def __post_init__(self) -> None:
        by_tenant: dict[str, set[str]] = {}
        for t, u in self.users:
            by_tenant.setdefault(t, set()).add(u)
        object.__setattr__(self, "_user_tenants", frozenset(by_tenant))
        object.__setattr__(self, "_by_tenant", by_tenant)

    def __call__(self, tenant_id: str, user_id: str | None) -> bool:
        key = pii_key()
        th = _cached_hash(key, tenant_id)
        if th in self.tenants:
            return True
        if user_id is None or th not in self._user_tenants:  # type: ignore[attr-defined]
            return False
        return (th, _cached_hash(key, user_id)) in self.users

    def names_erased_users(self, tenant_id: str) -> bool:
        """Whether a line of this tenant may name an erased user (scrub_references)."""
        return _cached_hash(pii_key(), tenant_id) in self._by_tenant  # type: ignore[attr-defined]

    def scrub_references(self, obj: dict[str, Any], tenant_id: str) -> bool:
        """Replace an erased user's id where another user's event names them (e.g.
        invited_by), in place; True when something was replaced. Only tenants with
        erased users pay for the walk."""
        key = pii_key()
        erased = self._by_tenant.get(_cached_hash(key, tenant_id))  # type: ignore[attr-defined]
        if not erased:
            return False
        return _replace_erased(obj, key, erased)

    def line_is_suppressed(self, line: str, tenant_id: str | None) -> bool:
        """For a quarantined line, which may not parse: any quoted string in it that hashes
        to an erased tenant, or to an erased user next to their tenant's id. Quarantined
        lines are few, so hashing their strings costs little."""
        key = pii_key()
        tokens = set(_QUOTED.findall(line))
        if tenant_id is not None:
            tokens.add(tenant_id)
        hashes = {_cached_hash(key, t) for t in tokens}
        if hashes & self.tenants:
            return True
        return any(t in hashes and u in hashes for t, u in self.users)


_QUOTED = re.compile(r'"([^"\\]{1,200})"')


def _replace_erased(node: Any, key: str, erased: set[str]) -> bool:
    changed = False
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in list(items):
        if isinstance(v, str):
            if _cached_hash(key, v) in erased:
                node[k] = ERASED
                changed = True
        elif isinstance(v, dict | list):
            changed = _replace_erased(v, key, erased) or changed
    return changed


@lru_cache(maxsize=65536)
def _cached_hash(key: str, value: str) -> str:
    # the key is part of the cache key: a process that changes keys gets fresh hashes
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def suppressor_of(rows: list[list[str | None]]) -> Suppressor | None:
    """The erased subjects from privacy.erasure_requests' (tenant_hash, user_hash) rows
    (the loader reads them with the rest of what a file's load needs), or None when
    there are none."""
    if not rows:
        return None
    return Suppressor(frozenset(t for t, u in rows if u is None),
                      frozenset((t, u) for t, u in rows if u is not None))
