"""`pulse report`: the dashboard specs rendered to static HTML that works offline.

An index and one page per dashboard; plotly.js (shipped inside the plotly package) is
written once beside the pages. Each card's section carries `data-rows` (rows its query
returned) and, once drawn, `data-rendered` (rows shown), which the report test reads in
headless Chromium (docs/dashboards.md).
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

import plotly
import plotly.offline
from plotly.utils import PlotlyJSONEncoder

from pulse.config import settings
from pulse.dashboards.figures import figure, plain
from pulse.dashboards.run import CardResult, Filters, run_dashboards
from pulse.dashboards.spec import Dashboard, load_dashboards

TABLE_MAX_ROWS = 200
PLOTLY_JS = "plotly.min.js"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2733; }
header { background: #1d3557; color: #fff; padding: 14px 28px; }
header a { color: #cfe3ff; } header h1 { margin: 4px 0; font-size: 24px; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 28px 40px; }
.lead { color: #44505c; max-width: 900px; }
.card { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12);
        padding: 16px 20px; margin: 18px 0; }
.card h2 { font-size: 18px; margin: 0 0 4px; } .card p.how { color: #55606b; margin: 0 0 8px; }
.empty { background: #fff7e0; border: 1px solid #f2d37a; padding: 10px 14px; border-radius: 6px; }
.error { background: #fde8e8; border: 1px solid #e99; padding: 10px 14px; border-radius: 6px; }
table.data { border-collapse: collapse; width: 100%; font-size: 13px; }
table.data th, table.data td { text-align: left; padding: 5px 8px;
                              border-bottom: 1px solid #e3e6ea; }
table.data th { background: #eef1f5; position: sticky; top: 0; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data td.day { white-space: nowrap; }
.scroll { max-height: 480px; overflow: auto; }
ul.dashboards li { margin: 10px 0; } .meta { color: #6b7680; font-size: 13px; }
"""


def default_out_dir() -> Path:
    return settings().data_dir / "report"


def _page(title: str, body: str, *, with_plotly: bool, up: bool) -> str:
    script = f'<script src="{PLOTLY_JS}"></script>' if with_plotly else ""
    back = '<a href="index.html">&larr; All dashboards</a>' if up else "Pulse"
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)} · Pulse</title><style>{STYLE}</style>{script}</head>"
            f"<body><header>{back}<h1>{html.escape(title)}</h1></header><main>{body}</main>"
            "</body></html>")


def _cell(value: object, fmt: str | None = None) -> str:
    value = plain(value)
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return f'<td class="day">{value}</td>'  # a day: never broken over two lines
    if fmt and fmt.endswith("%") and isinstance(value, (int, float)):
        digits = int(fmt[1:-1] or 0)  # ".0%" -> 0 decimals, as in the charts' d3 formats
        return f'<td class="num">{value:.{digits}%}</td>'
    if isinstance(value, (int, float)):
        text = f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"
        return f'<td class="num">{text}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(result: CardResult) -> str:
    columns = result.card.fields["columns"]
    formats = result.card.fields.get("formats") or {}
    idx = [result.columns.index(c) for c in columns]
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(row[i], formats.get(c))
                                    for i, c in zip(idx, columns, strict=True)) + "</tr>"
                   for row in result.rows[:TABLE_MAX_ROWS])
    return (f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _card(result: CardResult, n: int) -> str:
    card = result.card
    head = (f"<h2>{html.escape(card.title)}</h2>"
            f'<p class="how">{html.escape(card.description)}</p>')
    attrs = f'data-card="{card.id}" data-rows="{len(result.rows)}"'
    if result.error:
        return (f'<section class="card" {attrs} data-error="1">{head}'
                f'<p class="error">Query failed: {html.escape(result.error)}</p></section>')
    if not result.rows:
        why = " ".join((card.empty_reason or "the query returned no rows").split())
        return (f'<section class="card" {attrs} data-empty="1">{head}'
                f'<p class="empty">No data yet: {html.escape(why)}.</p></section>')
    if card.visualization == "table":
        return f'<section class="card" {attrs}>{head}{_table(result)}</section>'
    # "</" would end the script element early; JSON reads "<\/" the same
    fig = json.dumps(figure(card, result.columns, result.rows),
                     cls=PlotlyJSONEncoder).replace("</", "<\\/")
    return (f'<section class="card" {attrs}>{head}<div class="chart" id="chart{n}"></div>'
            f'<script type="application/json" id="fig{n}">{fig}'
            "</script></section>")


# Draws every chart, then marks each card with the rows it shows (tables: their rows).
_DRAW = """<script>
document.querySelectorAll('section.card').forEach(function (section) {
  var chart = section.querySelector('.chart');
  if (chart) {
    var fig = JSON.parse(document.getElementById('fig' + chart.id.slice(5)).textContent);
    Plotly.newPlot(chart, fig.data, fig.layout, {responsive: true, displaylogo: false})
      .then(function () { section.dataset.rendered = section.dataset.rows; });
  } else if (section.querySelector('table')) {
    section.dataset.rendered = section.querySelectorAll('tbody tr').length;
  }
});
</script>"""


def render_dashboard(dashboard: Dashboard, results: list[CardResult], generated: str) -> str:
    cards = "".join(_card(r, n) for n, r in enumerate(results))
    body = (f'<p class="lead">{html.escape(dashboard.description)}</p>'
            f'<p class="meta">Generated {generated}. Source: dashboards/{dashboard.name}.yml'
            f"</p>{cards}{_DRAW}")
    return _page(dashboard.title, body, with_plotly=True, up=True)


def render_index(dashboards: list[Dashboard], results: list[CardResult], generated: str) -> str:
    items = []
    for d in dashboards:
        mine = [r for r in results if r.card.dashboard == d.name]
        empty = sum(1 for r in mine if not r.ok)
        note = f", {empty} without data yet" if empty else ""
        items.append(f'<li><a href="{d.name}.html"><strong>{html.escape(d.title)}</strong></a>'
                     f' <span class="meta">({len(mine)} cards{note})</span><br>'
                     f"{html.escape(d.description)}</li>")
    body = (f'<p class="lead">Pulse\'s dashboards, rendered from dashboards/*.yml over the '
            f"warehouse's marts and quality results, as the analyst role sees them.</p>"
            f'<p class="meta">Generated {generated}.</p>'
            f'<ul class="dashboards">{"".join(items)}</ul>')
    return _page("Pulse dashboards", body, with_plotly=False, up=False)


def build_report(out_dir: Path | None = None, filters: Filters | None = None,
                 dashboards: list[Dashboard] | None = None) -> Path:
    """Writes the report into out_dir (default $PULSE_DATA_DIR/report); returns index.html."""
    filters = filters or Filters()
    out = Path(out_dir or default_out_dir())
    out.mkdir(parents=True, exist_ok=True)
    dashboards = dashboards if dashboards is not None else load_dashboards()
    results = run_dashboards(dashboards, filters)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    js = out / PLOTLY_JS
    version = f"/* plotly.py {plotly.__version__} */"
    if not js.exists() or not js.read_text()[:200].startswith(version):
        js.write_text(version + "\n" + plotly.offline.get_plotlyjs())
    for d in dashboards:
        mine = [r for r in results if r.card.dashboard == d.name]
        (out / f"{d.name}.html").write_text(render_dashboard(d, mine, generated))
    index = out / "index.html"
    index.write_text(render_index(dashboards, results, generated))
    return index


def refresh_report() -> dict:
    """The nightly DAG's task after publish_marts: rewrite the report in place.

    Without the analyst role (docs/roles.md) the report is skipped with the reason: the
    night's data is published already and must not be marked failed for it."""
    from pulse.dashboards.run import NoAnalystRole

    try:
        index = build_report()
    except NoAnalystRole as exc:
        print(f"report not refreshed: {exc}")
        return {"report": None, "skipped": str(exc)}
    return {"report": str(index)}
