"""Loading and validating the dashboard specs in dashboards/ (format: docs/dashboards.md).

`load_dashboards()` is the one reader: `pulse dashboards`, `pulse report`, the bench and
the Metabase client all get the same validated `Dashboard` objects from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pulse.config import REPO_ROOT

DASHBOARDS_DIR = REPO_ROOT / "dashboards"

# The filters a card may take and the SQL parameters each one binds (docs/dashboards.md).
FILTERS: dict[str, dict[str, str]] = {
    "tenant": {"tenant_id": "text"},
    "date_range": {"date_from": "date", "date_to": "date"},
}
# Which fields each visualisation needs (x/y/series name columns of the card's result).
VISUALIZATIONS: dict[str, tuple[str, ...]] = {
    "line": ("x", "y"),
    "bar": ("x", "y"),
    "stacked_bar": ("x", "y"),
    "heatmap": ("x", "y", "value"),
    "funnel": ("steps", "value"),
    "table": ("columns",),
}
ALLOWED_SCHEMAS = ("marts", "quality")

_PARAM = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_OPTIONAL = re.compile(r"\[\[(.*?)\]\]", re.S)
_RELATION = re.compile(r"\b(?:from|join)\s+([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)", re.I)
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class SpecError(ValueError):
    """A dashboard file that does not follow docs/dashboards.md."""


@dataclass(frozen=True)
class Card:
    id: str
    title: str
    description: str
    sql: str
    visualization: str
    fields: dict[str, Any]
    filters: tuple[str, ...]
    empty_reason: str | None = None
    dashboard: str = ""

    @property
    def relations(self) -> list[str]:
        """schema.table names the SQL reads, in order of appearance, each once."""
        seen: dict[str, None] = {}
        for schema, name in _RELATION.findall(self.sql):
            seen[f"{schema.lower()}.{name.lower()}"] = None
        return list(seen)

    @property
    def params(self) -> dict[str, str]:
        """SQL parameter name -> type, for the filters the card takes."""
        return {p: t for f in self.filters for p, t in FILTERS[f].items()}


@dataclass(frozen=True)
class Dashboard:
    name: str  # the file's stem, also the dbt exposure's name
    title: str
    description: str
    cards: list[Card] = field(default_factory=list)


def bind(sql: str, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The card's SQL for psycopg2 with its parameters bound, never pasted.

    `[[ ... ]]` is an optional clause (as in Metabase): kept when every `{{param}}` in it
    has a value, dropped otherwise. `{{param}}` becomes `%(param)s`."""
    def optional(match: re.Match[str]) -> str:
        body = match.group(1)
        return body if all(values.get(p) is not None for p in _PARAM.findall(body)) else ""

    text = _OPTIONAL.sub(optional, sql).replace("%", "%%")
    used = set(_PARAM.findall(text))
    missing = sorted(p for p in used if values.get(p) is None)
    if missing:
        raise SpecError(f"parameter(s) {', '.join(missing)} need a value outside [[ ]]")
    return _PARAM.sub(lambda m: f"%({m.group(1)})s", text), {p: values[p] for p in used}


def _require(data: dict, key: str, where: str, kind: type = str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is str and not value.strip()):
        raise SpecError(f"{where}: '{key}' is required ({kind.__name__})")
    return value


def _card(raw: Any, dashboard: str, where: str) -> Card:
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: a card is a mapping")
    card_id = _require(raw, "id", where)
    where = f"{where} card '{card_id}'"
    if not _ID.match(card_id):
        raise SpecError(f"{where}: id must be lower_snake_case")
    vis = _require(raw, "visualization", where)
    if vis not in VISUALIZATIONS:
        raise SpecError(f"{where}: visualization '{vis}' is not one of {', '.join(VISUALIZATIONS)}")
    fields = raw.get("fields") or {}
    missing = [f for f in VISUALIZATIONS[vis] if not fields.get(f)]
    if missing:
        raise SpecError(f"{where}: a {vis} needs fields {', '.join(missing)}")
    filters = tuple(raw.get("filters") or ())
    unknown = [f for f in filters if f not in FILTERS]
    if unknown:
        raise SpecError(f"{where}: unknown filter(s) {', '.join(unknown)}; "
                        f"known: {', '.join(FILTERS)}")
    card = Card(id=card_id, title=_require(raw, "title", where),
                description=" ".join(_require(raw, "description", where).split()),
                sql=_require(raw, "sql", where).strip(), visualization=vis, fields=dict(fields),
                filters=filters, empty_reason=raw.get("empty_reason"), dashboard=dashboard)
    declared = set(card.params)
    used = set(_PARAM.findall(card.sql))
    if used != declared:
        raise SpecError(f"{where}: the SQL uses parameters {sorted(used)} but the filters "
                        f"declare {sorted(declared)}")
    outside = [r for r in card.relations if r.split(".")[0] not in ALLOWED_SCHEMAS]
    if outside or not card.relations:
        raise SpecError(f"{where}: reads {outside or 'no table'}; cards read schema-qualified "
                        f"relations in {' and '.join(ALLOWED_SCHEMAS)} only")
    return card


def load_dashboard(path: Path) -> Dashboard:
    where = path.name
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{where}: a dashboard file is a mapping")
    cards = [_card(c, path.stem, where) for c in _require(data, "cards", where, list)]
    ids = [c.id for c in cards]
    if len(set(ids)) != len(ids):
        raise SpecError(f"{where}: card ids repeat")
    titles = [c.title for c in cards]
    if len(set(titles)) != len(titles):
        # Metabase finds a dashboard's cards by title (docs/metabase.md)
        raise SpecError(f"{where}: card titles repeat")
    return Dashboard(name=path.stem, title=_require(data, "title", where),
                     description=" ".join(_require(data, "description", where).split()),
                     cards=cards)


def load_dashboards(directory: Path | None = None) -> list[Dashboard]:
    """Every dashboard in dashboards/ (one YAML file each), validated, in file-name order."""
    directory = directory or DASHBOARDS_DIR
    files = sorted(directory.glob("*.yml"))
    if not files:
        raise SpecError(f"no dashboard files (*.yml) in {directory}")
    dashboards = [load_dashboard(p) for p in files]
    titles = [d.title for d in dashboards]
    if len(set(titles)) != len(titles):
        raise SpecError(f"{directory}: dashboard titles repeat (Metabase finds them by title)")
    return dashboards
