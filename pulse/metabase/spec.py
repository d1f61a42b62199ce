"""The dashboards the Metabase client provisions: a small interface of its own.

The client needs, per dashboard, a name, a title, a description and cards; per card a
title, a description, SQL, a visualisation with its fields and the filters it takes.
`project_dashboards()` is the one place that turns the project's dashboard specs into this
interface (docs/metabase.md, "Dashboard specs").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pulse.config import REPO_ROOT

# Filters a card may take -> what the dashboard shows. A card maps each filter it takes to
# a column of its own result (docs/metabase.md, "Filters").
FILTERS = ("tenant", "date_range")
# Metabase's `display` values Pulse uses.
VISUALIZATIONS = ("table", "line", "bar", "area", "row", "pie", "scalar", "combo", "funnel",
                  "scatter", "pivot")


class SpecError(ValueError):
    """A dashboard spec Pulse cannot provision; the message names the file and the key."""


@dataclass(frozen=True)
class Card:
    title: str
    description: str
    sql: str
    visualization: str
    # x: the dimension column(s); y: the metric column(s); series: a breakdown column
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # filter name (FILTERS) -> the column of the card's result it filters on
    filters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dashboard:
    name: str
    title: str
    description: str
    cards: tuple[Card, ...]


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{where}: `{key}` must be a non-empty string")
    return value.strip()


def _columns(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise SpecError(f"{where}: must be a column name or a list of them")


def card_from_mapping(data: dict[str, Any], where: str) -> Card:
    viz = data.get("visualization")
    kind = viz.get("type") if isinstance(viz, dict) else viz
    if kind not in VISUALIZATIONS:
        raise SpecError(f"{where}: `visualization` must be one of {', '.join(VISUALIZATIONS)}"
                        f", got {kind!r}")
    raw_fields = (viz.get("fields") if isinstance(viz, dict) else None) or data.get("fields")
    fields = {k: _columns(v, f"{where}.fields.{k}") for k, v in (raw_fields or {}).items()}
    filters = data.get("filters") or {}
    if isinstance(filters, list):
        raise SpecError(f"{where}: `filters` must map each filter to a column of the card's "
                        "result, e.g. {tenant: tenant_id, date_range: activity_date}")
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise SpecError(f"{where}: unknown filter(s) {unknown}; known: {', '.join(FILTERS)}")
    return Card(
        title=_text(data, "title", where),
        description=_text(data, "description", where),
        sql=_text(data, "sql", where).rstrip(";").rstrip(),
        visualization=kind,
        fields=fields,
        filters={k: str(v) for k, v in filters.items()},
    )


def dashboard_from_mapping(data: dict[str, Any], where: str) -> Dashboard:
    cards = data.get("cards")
    if not isinstance(cards, list) or not cards:
        raise SpecError(f"{where}: `cards` must be a non-empty list")
    built = tuple(card_from_mapping(c, f"{where}.cards[{i}]") for i, c in enumerate(cards))
    titles = [c.title for c in built]
    if len(set(titles)) != len(titles):
        raise SpecError(f"{where}: card titles must be unique within a dashboard "
                        "(Metabase finds cards by name)")
    return Dashboard(name=_text(data, "name", where), title=_text(data, "title", where),
                     description=_text(data, "description", where), cards=built)


def load_folder(folder: Path) -> list[Dashboard]:
    """One dashboard per *.yml file, sorted by file name."""
    if not folder.is_dir():
        raise SpecError(f"{folder}: no such folder of dashboard specs")
    out = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise SpecError(f"{path}: must be a mapping")
        out.append(dashboard_from_mapping(data, path.name))
    titles = [d.title for d in out]
    if len(set(titles)) != len(titles):
        raise SpecError(f"{folder}: dashboard titles must be unique")
    return out


def project_dashboards(folder: Path | None = None) -> list[Dashboard]:
    """The project's dashboards (dashboards/ at the repository root) in this interface.

    The adapter from the project's spec module: the only function to change when the spec
    format changes (docs/metabase.md, "Dashboard specs").
    """
    return load_folder(folder or REPO_ROOT / "dashboards")
