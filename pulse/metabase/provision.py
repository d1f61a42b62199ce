"""Make Metabase hold Pulse's dashboards: find, compare, create or update (docs/metabase.md).

Objects are found by name: the database connection by its name, the "Pulse" collection at
the root, one sub-collection per dashboard (holding its cards and the dashboard), cards and
dashboards by name inside it. An object is written only when a value Pulse sets differs
from what Metabase holds, so a second apply makes no write request. With `plan=True`
nothing is written; the changes are returned all the same.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pulse.config import ENV_VARS, DbParams
from pulse.dashboards.spec import FILTERS, VISUALIZATIONS, Card, Dashboard
from pulse.metabase.client import Metabase, MetabaseError

COLLECTION = "Pulse"
COLLECTION_DESCRIPTION = ("Pulse's dashboards, provisioned by `pulse metabase apply` from "
                          "dashboards/ in the Pulse repository: edit them there, not here.")
DATABASE = "Pulse warehouse"
SITE_NAME = "Pulse"
GRID_WIDTH = 24  # Metabase's dashboard grid has 24 columns
# Stable template-tag ids: the same card always gets the same ids, so comparing finds no
# difference where there is none.
_TAG_NAMESPACE = uuid.UUID("5b0e5f0e-9a43-4c59-8d1e-2f5d3c1a7e10")


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


# --- what Pulse wants Metabase to hold ------------------------------------------------

def database_payload(wh: DbParams) -> dict[str, Any]:
    return {
        "name": DATABASE,
        "engine": "postgres",
        "details": {
            "host": wh.host, "port": wh.port, "dbname": wh.dbname, "user": wh.user,
            "password": wh.password, "ssl": False, "tunnel-enabled": False,
            # the analyst may read these two schemas only (docs/roles.md)
            "schema-filters-type": "inclusion", "schema-filters-patterns": "marts,quality",
        },
        "is_full_sync": True,
    }


# The cards' SQL already speaks Metabase's template language (docs/dashboards.md):
# `{{tenant_id}}`, `{{date_from}}`, `{{date_to}}` inside optional `[[ ]]` clauses. Each
# parameter becomes a template tag and a dashboard parameter of the same id.
# parameter -> (label, tag type, dashboard parameter type, parameter section)
_TAGS: dict[str, tuple[str, str, str, str]] = {
    "tenant_id": ("Tenant", "text", "string/=", "string"),
    "date_from": ("From", "date", "date/single", "date"),
    "date_to": ("To", "date", "date/single", "date"),
}
assert set(_TAGS) == {p for params in FILTERS.values() for p in params}

# Pulse's visualisations -> Metabase's `display`. Metabase has no heatmap for native
# queries: a pivoted table with a colour range on the value reads the same way.
DISPLAY = {"line": "line", "bar": "bar", "stacked_bar": "bar", "heatmap": "table",
           "funnel": "funnel", "table": "table"}
assert set(DISPLAY) == set(VISUALIZATIONS)


def native_sql(card: Card) -> str:
    """The card's SQL as Metabase runs it: the same text, template tags and all."""
    return card.sql.rstrip().rstrip(";")


def template_tags(dashboard: Dashboard, card: Card) -> dict[str, dict[str, Any]]:
    tags = {}
    for param in card.params:
        label, tag_type, _ptype, _section = _TAGS[param]
        tid = uuid.uuid5(_TAG_NAMESPACE, f"{dashboard.name}/{card.id}/{param}")
        tags[param] = {"id": str(tid), "name": param, "display-name": label,
                       "type": tag_type, "required": False}
    return tags


def _number_formats(formats: dict[str, str]) -> dict[str, Any]:
    """d3-style formats of the spec (".0%", ",.0f") -> Metabase's column settings."""
    out = {}
    for column, fmt in formats.items():
        decimals = int(fmt.split(".")[1].rstrip("%f")) if "." in fmt else 0
        setting: dict[str, Any] = {"decimals": decimals}
        if fmt.endswith("%"):
            setting["number_style"] = "percent"
        out[f'["name","{column}"]'] = setting
    return out


def visualization_settings(card: Card) -> dict[str, Any]:
    f = card.fields
    ys = f.get("y") if isinstance(f.get("y"), list) else [f["y"]] if f.get("y") else []
    out: dict[str, Any] = {}
    if card.visualization in ("line", "bar", "stacked_bar"):
        out["graph.dimensions"] = [f["x"]] + ([f["series"]] if f.get("series") else [])
        out["graph.metrics"] = ys
        if f.get("x_label"):
            out["graph.x_axis.title_text"] = f["x_label"]
        if f.get("y_label"):
            out["graph.y_axis.title_text"] = f["y_label"]
        if card.visualization == "stacked_bar":
            out["stackable.stack_type"] = "stacked"
        if f.get("y_format"):
            out["column_settings"] = _number_formats({y: f["y_format"] for y in ys})
    elif card.visualization == "heatmap":
        out = {"table.pivot": True, "table.pivot_column": f["x"],
               "table.cell_column": f["value"],
               "table.column_formatting": [{
                   "columns": [f["value"]], "type": "range", "colors": ["#FFFFFF", "#509EE3"],
                   "min_type": None, "max_type": None, "highlight_row": False}]}
        if f.get("value_format"):
            out["column_settings"] = _number_formats({f["value"]: f["value_format"]})
    elif card.visualization == "funnel":
        out = {"funnel.dimension": f["steps"], "funnel.metric": f["value"]}
    elif f.get("formats"):
        out["column_settings"] = _number_formats(f["formats"])
    return out


def card_payload(dashboard: Dashboard, card: Card, database_id: int | None,
                 collection_id: int | None) -> dict[str, Any]:
    return {
        "name": card.title,
        "description": card.description,
        "collection_id": collection_id,
        "display": DISPLAY[card.visualization],
        "visualization_settings": visualization_settings(card),
        "dataset_query": {
            "database": database_id,
            "type": "native",
            "native": {"query": native_sql(card),
                       "template-tags": template_tags(dashboard, card)},
        },
    }


def dashboard_parameters(dashboard: Dashboard) -> list[dict[str, Any]]:
    used = {p for card in dashboard.cards for p in card.params}
    return [{"id": pid, "name": label, "slug": pid, "type": ptype, "sectionId": section}
            for pid, (label, _t, ptype, section) in _TAGS.items() if pid in used]


def layout(cards: list[Card]) -> list[tuple[int, int, int, int]]:
    """(row, col, size_x, size_y) per card: numbers in quarter rows, charts in halves,
    tables full width; left to right, top to bottom."""
    out, row, col, row_height = [], 0, 0, 0
    for card in cards:
        width, height = {"table": (24, 8), "heatmap": (24, 8)}.get(card.visualization, (12, 6))
        if col + width > GRID_WIDTH:
            row, col, row_height = row + row_height, 0, 0
        out.append((row, col, width, height))
        col, row_height = col + width, max(row_height, height)
    return out


def dashcards(dashboard: Dashboard, card_ids: list[int | None]) -> list[dict[str, Any]]:
    out = []
    for card, card_id, (row, col, sx, sy) in zip(dashboard.cards, card_ids,
                                                 layout(dashboard.cards), strict=True):
        mappings = [{"parameter_id": tag, "card_id": card_id,
                     "target": ["variable", ["template-tag", tag]]}
                    for tag in card.params]
        out.append({"card_id": card_id, "row": row, "col": col, "size_x": sx, "size_y": sy,
                    "parameter_mappings": mappings, "visualization_settings": {}})
    return out


def covers(actual: Any, desired: Any) -> bool:
    """True when `actual` holds every value of `desired` (extra keys Metabase adds, like
    ids and timestamps, do not count)."""
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            covers(actual.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return (isinstance(actual, list) and len(actual) == len(desired)
                and all(covers(a, d) for a, d in zip(actual, desired, strict=True)))
    return actual == desired


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
