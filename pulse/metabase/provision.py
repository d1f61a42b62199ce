"""Make Metabase hold Pulse's dashboards: find, compare, create or update (docs/metabase.md).

Objects are found by name: the database connection by its name, the "Pulse" collection at
the root, one sub-collection per dashboard (holding its cards and the dashboard), cards and
dashboards by name inside it. An object is written only when a value Pulse sets differs
from what Metabase holds, so a second apply makes no write request. With `plan=True`
nothing is written; the changes are returned all the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pulse.config import ENV_VARS, DbParams
from pulse.dashboards.spec import Dashboard
from pulse.metabase.client import Metabase, MetabaseError
from pulse.metabase.payloads import (  # noqa: F401 (native_sql: the tests read it here)
    DATABASE,
    DISPLAY,
    card_payload,
    covers,
    dashboard_parameters,
    dashcards,
    database_payload,
    native_sql,
)

COLLECTION = "Pulse"
COLLECTION_DESCRIPTION = ("Pulse's dashboards, provisioned by `pulse metabase apply` from "
                          "dashboards/ in the Pulse repository: edit them there, not here.")
SITE_NAME = "Pulse"


class SettingsError(ValueError):
    """A missing or malformed PULSE_METABASE_* variable (exit 2)."""


@dataclass(frozen=True)
class MetabaseSettings:
    url: str
    admin_email: str
    admin_password: str
    warehouse: DbParams  # as Metabase reaches it, logging in as a pulse_analyst member

    @classmethod
    def from_env(cls) -> MetabaseSettings:
        def get(name: str) -> str:
            assert name in ENV_VARS, f"{name} must be declared in pulse.config.ENV_VARS"
            return os.environ.get(name, "").strip()

        password = get("PULSE_METABASE_ADMIN_PASSWORD")
        if not password:
            raise SettingsError("set PULSE_METABASE_ADMIN_PASSWORD (the Metabase admin's "
                                "password; compose reads it from .env)")
        wh_url = get("PULSE_METABASE_WAREHOUSE_URL")
        if not wh_url:
            raise SettingsError("set PULSE_METABASE_WAREHOUSE_URL=postgresql://ANALYST:"
                                "PASSWORD@HOST:PORT/DB, the warehouse as Metabase reaches it "
                                "(a login in role pulse_analyst)")
        try:
            warehouse = DbParams.from_url(wh_url)
        except ValueError as exc:
            raise SettingsError(f"PULSE_METABASE_WAREHOUSE_URL: {exc}") from None
        return cls(url=get("PULSE_METABASE_URL") or "http://127.0.0.1:3000",
                   admin_email=get("PULSE_METABASE_ADMIN_EMAIL") or "admin@pulse.local",
                   admin_password=password, warehouse=warehouse)


@dataclass(frozen=True)
class Change:
    action: str  # create | update | archive | setup
    kind: str  # admin | database | collection | card | dashboard
    name: str
    detail: str = ""

    def render(self, plan: bool) -> str:
        verb = f"would {self.action}" if plan else {
            "create": "created", "update": "updated", "archive": "archived",
            "setup": "set up"}[self.action]
        extra = f" ({self.detail})" if self.detail else ""
        return f"{verb} {self.kind} {self.name!r}{extra}"


# --- applying -------------------------------------------------------------------------

class Provisioner:
    def __init__(self, api: Metabase, settings: MetabaseSettings, plan: bool,
                 log: Callable[[str], None] = print) -> None:
        self.api, self.settings, self.plan, self.log = api, settings, plan, log
        self.changes: list[Change] = []
        # False in a plan for a Metabase not set up yet: nothing can be read, all is new
        self.can_read = True
        self._collection_cache: list[dict[str, Any]] | None = None

    def _change(self, action: str, kind: str, name: str, detail: str = "") -> None:
        change = Change(action, kind, name, detail)
        self.changes.append(change)
        self.log(change.render(self.plan))

    def apply(self, dashboards: list[Dashboard]) -> list[Change]:
        self._session()
        database_id = self._database()
        root_id = self._collection(COLLECTION, None, COLLECTION_DESCRIPTION)
        for dashboard in dashboards:
            self._dashboard(dashboard, database_id, root_id)
        return self.changes

    def _session(self) -> None:
        s = self.settings
        props = self.api.properties()
        if props.get("has-user-setup", True):
            self.api.login(s.admin_email, s.admin_password)
            return
        token = props.get("setup-token")
        if not token:
            raise MetabaseError("Metabase is not set up and gave no setup token")
        self._change("setup", "admin", s.admin_email, "first start")
        if self.plan:
            self.can_read = False
        else:
            self.api.setup(token, s.admin_email, s.admin_password, SITE_NAME)

    def _database(self) -> int | None:
        want = database_payload(self.settings.warehouse)
        found = None
        if self.can_read:
            listing = self.api.request("GET", "/api/database")
            rows = listing.get("data", []) if isinstance(listing, dict) else listing
            found = next((d for d in rows if d.get("name") == DATABASE), None)
        if found is None:
            self._change("create", "database", DATABASE,
                         f"{want['details']['user']}@{want['details']['host']}")
            return None if self.plan else self.api.request("POST", "/api/database", want)["id"]
        current = self.api.request("GET", f"/api/database/{found['id']}")
        # Metabase never returns the password; a changed password alone is not seen
        # (docs/metabase.md).
        comparable = {**want, "details": {k: v for k, v in want["details"].items()
                                          if k != "password"}}
        comparable.pop("is_full_sync")
        if not covers(current, comparable):
            self._change("update", "database", DATABASE, "connection details")
            if not self.plan:
                self.api.request("PUT", f"/api/database/{found['id']}", want)
        return found["id"]

    def _collections(self) -> list[dict[str, Any]]:
        if self._collection_cache is None:
            self._collection_cache = self.api.request("GET", "/api/collection") or []
        return self._collection_cache

    def _collection(self, name: str, parent_id: int | None, description: str) -> int | None:
        found = None
        if self.can_read:
            # the root collection is listed with the id "root"; its children at "/"
            location = "/" if parent_id is None else f"/{parent_id}/"
            found = next((c for c in self._collections()
                          if c.get("name") == name and not c.get("archived")
                          and c.get("location") == location and isinstance(c.get("id"), int)),
                         None)
        if found is None:
            self._change("create", "collection", name)
            if self.plan:
                return None
            created = self.api.request("POST", "/api/collection", {
                "name": name, "description": description, "parent_id": parent_id})
            return created["id"]
        if found.get("description") != description:
            self._change("update", "collection", name, "description")
            if not self.plan:
                self.api.request("PUT", f"/api/collection/{found['id']}",
                                 {"description": description})
        return found["id"]

    def _items(self, collection_id: int | None) -> list[dict[str, Any]]:
        if collection_id is None:
            return []
        got = self.api.request("GET", f"/api/collection/{collection_id}/items",
                               params=[("models", "card"), ("models", "dashboard")])
        return got.get("data", []) if isinstance(got, dict) else got

    def _dashboard(self, dashboard: Dashboard, database_id: int | None,
                   root_id: int | None) -> None:
        coll_id = (self._collection(dashboard.title, root_id, dashboard.description)
                   if root_id is not None else self._collection_planned(dashboard))
        items = self._items(coll_id)
        cards = {i["name"]: i for i in items if i.get("model") == "card"}
        card_ids: list[int | None] = []
        for card in dashboard.cards:
            want = card_payload(dashboard, card, database_id, coll_id)
            label = f"{dashboard.title} / {card.title}"
            existing = cards.pop(card.title, None)
            if existing is None:
                self._change("create", "card", label, DISPLAY[card.visualization])
                card_ids.append(None if self.plan else
                                self.api.request("POST", "/api/card", want)["id"])
                continue
            current = self.api.request("GET", f"/api/card/{existing['id']}")
            if not covers(current, want):
                what = [k for k in want if not covers(current.get(k), want[k])]
                self._change("update", "card", label, ", ".join(what))
                if not self.plan:
                    self.api.request("PUT", f"/api/card/{existing['id']}", want)
            card_ids.append(existing["id"])
        for stale in cards.values():
            self._change("archive", "card", f"{dashboard.title} / {stale['name']}",
                         "no longer in the spec")
            if not self.plan:
                self.api.request("PUT", f"/api/card/{stale['id']}", {"archived": True})
        self._dashboard_object(dashboard, coll_id, items, card_ids)

    def _collection_planned(self, dashboard: Dashboard) -> None:
        self._change("create", "collection", dashboard.title)
        return None

    def _dashboard_object(self, dashboard: Dashboard, coll_id: int | None,
                          items: list[dict[str, Any]], card_ids: list[int | None]) -> None:
        params = dashboard_parameters(dashboard)
        existing = next((i for i in items if i.get("model") == "dashboard"
                         and i.get("name") == dashboard.title), None)
        if existing is None:
            self._change("create", "dashboard", dashboard.title,
                         f"{len(dashboard.cards)} cards")
            if self.plan:
                return
            dash_id = self.api.request("POST", "/api/dashboard", {
                "name": dashboard.title, "description": dashboard.description,
                "collection_id": coll_id, "parameters": params})["id"]
            current: dict[str, Any] = {"dashcards": []}
        else:
            dash_id = existing["id"]
            current = self.api.request("GET", f"/api/dashboard/{dash_id}")
        want_cards = dashcards(dashboard, card_ids)
        have = sorted(current.get("dashcards") or [],
                      key=lambda d: (d.get("row", 0), d.get("col", 0)))
        same = (existing is not None
                and current.get("description") == dashboard.description
                and covers(current.get("parameters"), params)
                and None not in card_ids and covers(have, want_cards))
        if same:
            return
        if existing is not None:
            self._change("update", "dashboard", dashboard.title, "cards, filters or text")
        if self.plan:
            return
        # Keep the ids of dashcards that show the same card, so Metabase updates them in
        # place; new ones get negative ids (Metabase's convention for "create").
        by_card = {d.get("card_id"): d["id"] for d in have}
        body = [{**d, "id": by_card.pop(d["card_id"], -(i + 1))}
                for i, d in enumerate(want_cards)]
        self.api.request("PUT", f"/api/dashboard/{dash_id}", {
            "description": dashboard.description, "parameters": params,
            "dashcards": body, "tabs": []})
