"""What Pulse wants Metabase to hold, as Metabase's API writes it: the database
connection, each card's native query with its filters, the dashboards' parameters and
layout (docs/metabase.md). Pure functions; pulse.metabase.provision compares and writes.
"""

from __future__ import annotations

import uuid
from typing import Any

from pulse.config import DbParams
from pulse.metabase.spec import Card, Dashboard

DATABASE = "Pulse warehouse"
GRID_WIDTH = 24  # Metabase's dashboard grid has 24 columns
# Stable template-tag ids: the same card always gets the same ids, so comparing finds no
# difference where there is none.
_TAG_NAMESPACE = uuid.UUID("5b0e5f0e-9a43-4c59-8d1e-2f5d3c1a7e10")


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


# filter -> (template tags, dashboard parameters), each tag mapped to the parameter of
# the same id
_TAGS: dict[str, list[tuple[str, str, str, str, str]]] = {
    # (tag and parameter id, label, tag type, parameter type, parameter section)
    "tenant": [("tenant", "Tenant", "text", "string/=", "string")],
    "date_range": [("date_from", "From", "date", "date/single", "date"),
                   ("date_to", "To", "date", "date/single", "date")],
}


def native_sql(card: Card) -> str:
    """The card's SQL wrapped so each filter is an optional clause on its column.

    `[[ ... ]]` drops the clause when the dashboard filter is empty, so an unfiltered
    dashboard shows the card's SQL as written.
    """
    if not card.filters:
        return card.sql
    clauses = []
    for name, column in card.filters.items():
        col = f'pulse_card."{column}"'
        if name == "tenant":
            clauses.append(f"[[and {col} = {{{{tenant}}}}]]")
        else:
            clauses.append(f"[[and {col} >= {{{{date_from}}}}]]")
            clauses.append(f"[[and {col} <= {{{{date_to}}}}]]")
    return f"select * from (\n{card.sql}\n) as pulse_card\nwhere true\n" + "\n".join(clauses)


def template_tags(dashboard: Dashboard, card: Card) -> dict[str, dict[str, Any]]:
    tags = {}
    for name in card.filters:
        for tag, label, tag_type, _ptype, _section in _TAGS[name]:
            tid = uuid.uuid5(_TAG_NAMESPACE, f"{dashboard.title}/{card.title}/{tag}")
            tags[tag] = {"id": str(tid), "name": tag, "display-name": label,
                         "type": tag_type, "required": False}
    return tags


def visualization_settings(card: Card) -> dict[str, Any]:
    x = list(card.fields.get("x", ()))
    y = list(card.fields.get("y", ()))
    series = list(card.fields.get("series", ()))
    if card.visualization in ("line", "bar", "area", "row", "combo", "scatter"):
        out: dict[str, Any] = {}
        if x or series:
            out["graph.dimensions"] = x + series
        if y:
            out["graph.metrics"] = y
        return out
    if card.visualization == "pie" and x and y:
        return {"pie.dimension": x[0], "pie.metric": y[0]}
    if card.visualization == "funnel" and x and y:
        return {"funnel.dimension": x[0], "funnel.metric": y[0]}
    if card.visualization == "scalar" and y:
        return {"scalar.field": y[0]}
    return {}


def card_payload(dashboard: Dashboard, card: Card, database_id: int | None,
                 collection_id: int | None) -> dict[str, Any]:
    return {
        "name": card.title,
        "description": card.description,
        "collection_id": collection_id,
        "display": card.visualization,
        "visualization_settings": visualization_settings(card),
        "dataset_query": {
            "database": database_id,
            "type": "native",
            "native": {"query": native_sql(card),
                       "template-tags": template_tags(dashboard, card)},
        },
    }


def dashboard_parameters(dashboard: Dashboard) -> list[dict[str, Any]]:
    used = {name for card in dashboard.cards for name in card.filters}
    return [{"id": pid, "name": label, "slug": pid, "type": ptype, "sectionId": section}
            for name in ("tenant", "date_range") if name in used
            for pid, label, _t, ptype, section in _TAGS[name]]


def layout(cards: tuple[Card, ...]) -> list[tuple[int, int, int, int]]:
    """(row, col, size_x, size_y) per card: numbers in quarter rows, charts in halves,
    tables full width; left to right, top to bottom."""
    out, row, col, row_height = [], 0, 0, 0
    for card in cards:
        width, height = {"scalar": (6, 3), "table": (24, 8), "pivot": (24, 8)}.get(
            card.visualization, (12, 6))
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
                    for name in card.filters for tag, *_ in _TAGS[name]]
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


