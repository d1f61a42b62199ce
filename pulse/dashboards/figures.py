"""Plotly figures (as JSON-ready dicts) for the cards' results (docs/dashboards.md)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

from pulse.dashboards.spec import Card

HEIGHT = 400
# Categories that mean good / middling / bad keep their colour on every chart.
CATEGORY_COLOURS = {
    "healthy": "#2e9e44", "neutral": "#f2b134", "at_risk": "#d6404a",
    "low": "#2e9e44", "medium": "#f2b134", "high": "#d6404a",
    "passed": "#2e9e44", "warnings": "#f2b134", "critical_failures": "#d6404a",
    "delivered": "#2e9e44", "in_progress": "#8fb8de", "failed": "#f2b134",
    "abandoned": "#d6404a",
    "new_mrr": "#2e7d32", "expansion_mrr": "#7cc47f", "reactivated_mrr": "#4a90c2",
    "contraction_mrr": "#f28e2b", "churned_mrr": "#d6404a",
}
ACRONYMS = {"dau", "wau", "mau", "mrr", "nrr", "ltv", "p90", "p95", "d1", "d7", "d30"}


def plain(value: Any) -> Any:
    """A JSON-friendly value: numbers as floats, days as ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _label(column: str) -> str:
    words = [w.upper() if w in ACRONYMS else w for w in column.split("_")]
    text = " ".join(words)
    return text[0].upper() + text[1:]


def _traces(card: Card, columns: list[str], rows: list[tuple]) -> list[dict[str, Any]]:
    """One trace per y column, or per y column and series value."""
    f = card.fields
    idx = {c: i for i, c in enumerate(columns)}
    ys = list(f["y"])
    groups: dict[Any, list[tuple]] = {}
    if f.get("series"):
        for row in rows:
            groups.setdefault(row[idx[f["series"]]], []).append(row)
    else:
        groups[None] = rows
    traces = []
    for key, group in groups.items():
        for y in ys:
            name = str(key) if key is not None else _label(y)
            if key is not None and len(ys) > 1:
                name = f"{key}: {_label(y)}"
            xs = [plain(r[idx[f["x"]]]) for r in group]
            vs = [plain(r[idx[y]]) for r in group]
            colour = CATEGORY_COLOURS.get(str(key) if key is not None else y)
            traces.append({"name": name, "x": xs, "y": vs, "colour": colour})
    return traces


def _xy_figure(card: Card, columns: list[str], rows: list[tuple]) -> go.Figure:
    f = card.fields
    fig = go.Figure()
    horizontal = f.get("orientation") == "h"
    for t in _traces(card, columns, rows):
        marker = {"color": t["colour"]} if t["colour"] else {}
        if card.visualization == "line":
            fig.add_trace(go.Scatter(x=t["x"], y=t["y"], name=t["name"],
                                     mode="lines+markers" if len(t["x"]) <= 16 else "lines",
                                     line={"color": t["colour"]} if t["colour"] else None))
        else:
            x, y = (t["y"], t["x"]) if horizontal else (t["x"], t["y"])
            fig.add_trace(go.Bar(x=x, y=y, name=t["name"], marker=marker,
                                 orientation="h" if horizontal else "v"))
    value_axis = {"title": {"text": f.get("y_label") or ""}, "tickformat": f.get("y_format"),
                  "rangemode": "tozero"}
    cat_axis = {"title": {"text": f.get("x_label") or ""}}
    first_x = rows[0][columns.index(f["x"])] if rows else None
    if isinstance(first_x, (date, datetime)):
        # days, never a midnight time of day (a single day would show "00:00:00")
        cat_axis.update(type="date", tickformat="%b %-d, %Y", hoverformat="%Y-%m-%d")
        if len({r[columns.index(f["x"])] for r in rows}) <= 7:
            cat_axis["dtick"] = 86_400_000  # a few days: one tick a day, not every 12 hours
    elif isinstance(first_x, str):
        cat_axis["type"] = "category"
    elif isinstance(first_x, int):
        cat_axis["tickformat"] = "d"  # periods are whole numbers, never 0.5
    if horizontal:
        fig.update_layout(xaxis=value_axis, yaxis=cat_axis,
                          height=max(HEIGHT, 28 * len({r[columns.index(f['x'])] for r in rows})))
    else:
        fig.update_layout(xaxis=cat_axis, yaxis=value_axis)
    if card.visualization == "stacked_bar":
        fig.update_layout(barmode="relative")
    elif card.visualization == "bar":
        fig.update_layout(barmode="group")
    return fig


def _heatmap(card: Card, columns: list[str], rows: list[tuple]) -> go.Figure:
    f = card.fields
    ix, iy, iv = (columns.index(f[k]) for k in ("x", "y", "value"))
    xs = sorted({r[ix] for r in rows})
    ys = list(dict.fromkeys(r[iy] for r in rows))
    cells = {(r[iy], r[ix]): plain(r[iv]) for r in rows}
    z = [[cells.get((y, x)) for x in xs] for y in ys]
    fmt = f.get("value_format") or ""
    percent = "%" in fmt
    fig = go.Figure(go.Heatmap(
        x=[str(plain(x)) for x in xs], y=[str(y) for y in ys], z=z,
        colorscale="Blues", zmin=0 if percent else None, zmax=1 if percent else None,
        texttemplate=f"%{{z:{fmt}}}" if fmt else "%{z}", hoverongaps=False,
        colorbar={"title": {"text": f.get("value_label") or _label(f["value"])},
                  "tickformat": fmt or None},
        hovertemplate=(f"{f.get('y_label', '')} %{{y}}<br>{f.get('x_label', '')} %{{x}}"
                       f"<br>{f.get('value_label', '')} %{{z:{fmt}}}<extra></extra>"),
    ))
    fig.update_layout(
        xaxis={"title": {"text": f.get("x_label") or ""}, "type": "category", "side": "top"},
        yaxis={"title": {"text": f.get("y_label") or ""}, "type": "category",
               "autorange": "reversed"},
        height=max(HEIGHT, 120 + 26 * len(ys)),
    )
    return fig


def _funnel(card: Card, columns: list[str], rows: list[tuple]) -> go.Figure:
    f = card.fields
    steps = [r[columns.index(f["steps"])] for r in rows]
    values = [plain(r[columns.index(f["value"])]) for r in rows]
    fig = go.Figure(go.Funnel(y=steps, x=values, textinfo="value+percent initial",
                              marker={"color": "#3b75af"}))
    return fig


def figure(card: Card, columns: list[str], rows: list[tuple]) -> dict[str, Any]:
    """The card's chart as a plotly figure dict ({data, layout})."""
    if card.visualization == "heatmap":
        fig = _heatmap(card, columns, rows)
    elif card.visualization == "funnel":
        fig = _funnel(card, columns, rows)
    else:
        fig = _xy_figure(card, columns, rows)
    # the legend above the plot: below it, long rotated category labels would cover it
    fig.update_layout(template="plotly_white", margin={"l": 70, "r": 30, "t": 50, "b": 60},
                      legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
                      font={"family": "system-ui, sans-serif", "size": 13})
    if fig.layout.height is None:
        fig.update_layout(height=HEIGHT)
    return fig.to_plotly_json()
