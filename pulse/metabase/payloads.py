"""What Pulse wants Metabase to hold, as Metabase's API writes it: the database
connection, each card's native query with its template tags, the dashboards' parameters
and layout (docs/metabase.md). Pure functions; pulse.metabase.provision compares and
writes.
"""

from __future__ import annotations

import uuid
from typing import Any

from pulse.config import DbParams
from pulse.dashboards.spec import FILTERS, VISUALIZATIONS, Card, Dashboard

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
