"""`pulse dashboards list|check` and `pulse report` (docs/dashboards.md).

    pulse dashboards list [--json]     the dashboards and their cards (--json: with the SQL)
    pulse dashboards check             run every card as pulse_analyst; fail on an error
                                       or an empty result, one line per failing card
    pulse report [--out DIR]           the static HTML report (default $PULSE_DATA_DIR/report)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pulse import cliargs
from pulse.dashboards.spec import SpecError, load_dashboards


def add_parser(sub) -> None:
    p = sub.add_parser("dashboards", help="the dashboards in dashboards/: list, check",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = p.add_subparsers(dest="dashboards_command", required=True, metavar="COMMAND")
    ls = cmds.add_parser("list", help="the dashboards and their cards")
    ls.add_argument("--json", action="store_true", help="every card with its dashboard and SQL")
    cmds.add_parser("check", help="run every card as pulse_analyst")
    p.set_defaults(func=run)

    r = sub.add_parser("report", help="render the dashboards to static HTML")
    r.add_argument("--out", type=Path, help="output folder (default $PULSE_DATA_DIR/report)")
    r.add_argument("--tenant", help="only this tenant_id")
    r.add_argument("--from", dest="date_from", type=cliargs.day, help="first day, YYYY-MM-DD")
    r.add_argument("--to", dest="date_to", type=cliargs.day, help="last day, YYYY-MM-DD")
    r.set_defaults(func=run_report)


def _list(as_json: bool) -> int:
    dashboards = load_dashboards()
    if as_json:
        cards = [{"dashboard": d.name, "dashboard_title": d.title, "card": c.id,
                  "title": c.title, "description": c.description,
                  "visualization": c.visualization, "fields": c.fields,
                  "filters": list(c.filters), "tables": c.relations, "sql": c.sql}
                 for d in dashboards for c in d.cards]
        print(json.dumps(cards, indent=2))
        return 0
    for d in dashboards:
        print(f"{d.name}: {d.title} ({len(d.cards)} cards)")
        for c in d.cards:
            print(f"  {c.id:<28} {c.visualization:<12} {c.title}")
    return 0


def _check() -> int:
    from pulse.dashboards.run import run_dashboards

    dashboards = load_dashboards()
    results = run_dashboards(dashboards)
    failing = [r for r in results if not r.ok]
    for r in failing:
        print(f"FAIL {r.card.dashboard}/{r.card.id}: {r.problem()}")
    print(f"{len(results) - len(failing)} of {len(results)} cards returned rows "
          f"as pulse_analyst" + (f"; {len(failing)} failed" if failing else ""))
    return 1 if failing else 0


def run(args: argparse.Namespace) -> int:
    from pulse.dashboards.run import NoAnalystRole

    try:
        if args.dashboards_command == "list":
            return _list(args.json)
        return _check()
    except (NoAnalystRole, SpecError) as exc:
        return _refused("dashboards", exc)


def _refused(command: str, exc: Exception) -> int:
    """One line on stderr and exit 2, for what the user fixes: a spec, a missing role."""
    hint = ("; fix the file in dashboards/ (docs/dashboards.md)"
            if isinstance(exc, SpecError) else "")
    print(f"pulse {command}: {exc}{hint}", file=sys.stderr)
    return 2


def run_report(args: argparse.Namespace) -> int:
    from pulse.dashboards.report import build_report
    from pulse.dashboards.run import Filters, NoAnalystRole

    try:
        index = build_report(args.out, Filters(args.tenant, args.date_from, args.date_to))
    except (NoAnalystRole, SpecError) as exc:
        return _refused("report", exc)
    except OSError as exc:
        print(f"pulse report: cannot write the report: {exc}; choose another --out",
              file=sys.stderr)
        return 2
    print(f"report: {index}")
    return 0
