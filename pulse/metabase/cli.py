"""`pulse metabase apply [--plan]`: provision Pulse's dashboards in Metabase."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("metabase", help="provision the dashboards in Metabase (REST API)")
    mb = p.add_subparsers(dest="metabase_command", required=True, metavar="METABASE_COMMAND")
    a = mb.add_parser("apply", help="create or update the database connection, the Pulse "
                                    "collection, the cards and the dashboards")
    a.add_argument("--plan", action="store_true",
                   help="print what would change and change nothing")
    a.add_argument("--dashboards", type=Path, metavar="DIR",
                   help="folder of dashboard specs (default: dashboards/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pulse.dashboards.spec import SpecError, load_dashboards
    from pulse.metabase.client import LoginRefused, Metabase, MetabaseError
    from pulse.metabase.provision import MetabaseSettings, Provisioner, SettingsError

    try:
        settings = MetabaseSettings.from_env()
        dashboards = load_dashboards(args.dashboards)
    except (SettingsError, SpecError) as exc:
        print(f"pulse metabase: {exc}", file=sys.stderr)
        return 2
    secrets = (settings.admin_password, settings.warehouse.password)
    try:
        with Metabase(settings.url, secrets=secrets) as api:
            changes = Provisioner(api, settings, plan=args.plan).apply(dashboards)
    except LoginRefused as exc:
        print(f"pulse metabase: {exc}", file=sys.stderr)
        return 2
    except MetabaseError as exc:
        print(f"pulse metabase: {exc}", file=sys.stderr)
        return 1
    cards = sum(len(d.cards) for d in dashboards)
    if not changes:
        print(f"Metabase is up to date: {len(dashboards)} dashboards, {cards} cards "
              f"({settings.url})")
    elif args.plan:
        print(f"{len(changes)} change(s) planned; nothing written. Run without --plan "
              "to apply them.")
    else:
        print(f"{len(changes)} change(s) applied: {len(dashboards)} dashboards, {cards} "
              f"cards in collection 'Pulse' ({settings.url})")
    return 0
