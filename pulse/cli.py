"""`pulse`: the command line of the Pulse warehouse.

    pulse warehouse up|down|status|psql|url   the local PostgreSQL cluster
    pulse env                                 shell exports for dbt and psql
    pulse migrate                             apply the raw-layer DDL in sql/
    pulse generate ...                        write synthetic landing files
    pulse load [--through DAY] [--jobs N]     load landing files into raw
    pulse airflow ARGS...                     Airflow's CLI with Pulse's settings
    pulse dbt ARGS...                         dbt in dbt_project/ with Pulse's settings
    pulse gate [SUITE...] [--day DAY]         the quality gate (Great Expectations)
    pulse demo                                the whole demo (what `make demo` runs)
    pulse summary                             rows per layer, quarantine by reason
    pulse webhooks endpoints|deliver|replay   webhook endpoints, delivery and replays
    pulse ml train|score|report               churn, LTV and propensity models
    pulse privacy erase|verify|apply|purge    erasure, retention, PII rules (docs/privacy.md)
    pulse dashboards list|check               the dashboards in dashboards/
    pulse report [--out DIR]                  the dashboards as static HTML
    pulse metabase apply [--plan]             the dashboards in Metabase (REST API)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import subprocess
import sys

import psycopg2.errors

from pulse import cliargs, cluster, warehouse
from pulse.config import ConfigError, settings


def _cmd_warehouse(args: argparse.Namespace) -> int:
    s = settings()
    if args.action == "up":
        wh = cluster.up(s)
        print(cluster.status(s))
        print(f"WAREHOUSE_URL={wh.url()}")
    elif args.action == "down":
        print("stopped" if cluster.down(s) else "not running")
    elif args.action == "status":
        print(cluster.status(s))
        return 0 if (not s.uses_local_cluster or cluster.is_running(s)) else 3
    elif args.action == "url":
        print(s.warehouse().url())
    elif args.action == "psql":
        wh = s.warehouse()
        env = dict(os.environ, PGPASSWORD=wh.password) if wh.password else None
        psql = "psql"
        with contextlib.suppress(warehouse.WarehouseError):
            psql = str(cluster.find_pg_bin() / "psql")
        cmd = [psql, "-h", wh.host, "-p", str(wh.port), "-U", wh.user, wh.dbname, *args.rest]
        return subprocess.call(cmd, env=env)
    return 0


def _cmd_env(_: argparse.Namespace) -> int:
    from pulse.orchestration import dbt_env

    for key, value in dbt_env().items():
        print(f"export {key}={shlex.quote(value)}")
    wh = settings().warehouse()
    print(f"export PGHOST={wh.host} PGPORT={wh.port} PGUSER={shlex.quote(wh.user)} "
          f"PGDATABASE={shlex.quote(wh.dbname)}")
    return 0


def _cmd_migrate(_: argparse.Namespace) -> int:
    from pulse import migrate

    applied = migrate.apply()
    print(f"{len(applied)} migration(s) applied" if applied else "schema up to date")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from generators.cli import main as generate_main

    rest = list(args.rest)
    if "--out" not in rest:
        rest = ["--out", str(settings().landing_dir), *rest]
    return generate_main(rest, prog="pulse generate")


def _cmd_load(args: argparse.Namespace) -> int:
    from pulse import loader, migrate

    migrate.apply(log=lambda _m: None)
    through = args.through

    def progress(result: loader.FileResult) -> None:
        if result.status == "loaded":
            print(f"  {result.file.rel}: {result.rows_loaded:,} rows, "
                  f"{result.rows_rejected:,} quarantined")
        elif result.status != "skipped":
            print(f"  {result.file.rel}: {result.status.upper()}: {result.message}",
                  file=sys.stderr)

    report = loader.load(through=through, progress=progress, jobs=args.jobs)
    print(report.summary())
    return 1 if report.problems else 0


# Airflow commands that run without its metadata database.
AIRFLOW_WITHOUT_DB = {"version", "cheat-sheet", "-h", "--help"}


def _cmd_airflow(args: argparse.Namespace) -> int:
    from pulse.airflow_env import run_airflow

    if args.rest and args.rest[0] not in AIRFLOW_WITHOUT_DB:
        # Airflow itself answers a missing database with a 130-line traceback.
        warehouse.reachable(settings().airflow_db(), "Airflow's metadata database")
    return run_airflow(args.rest, check=False).returncode


def _cmd_dbt(args: argparse.Namespace) -> int:
    from pulse.orchestration import dbt_binary, dbt_env

    s = settings()
    env = dict(os.environ, **dbt_env())
    return subprocess.call([dbt_binary(), *args.rest], cwd=s.dbt_project_dir, env=env)


def _cmd_demo(args: argparse.Namespace) -> int:
    from pulse.demo import run_demo

    return run_demo(seed=args.seed, size=args.size, dirty=args.dirty, tenants=args.tenants,
                    users=args.users, days=args.days)


def _cmd_gate(args: argparse.Namespace) -> int:
    from pulse import migrate
    from pulse.quality import gate, suites

    migrate.apply(log=lambda _m: None)
    names: list[str] = []
    for name in args.suites or ["all"]:
        if name == "all":
            names += [*suites.AFTER_LOAD, *suites.AFTER_DBT]
        elif name in ("after_load", "after_dbt"):
            names += list(getattr(suites, name.upper()))
        else:
            names.append(name)
    try:
        day = args.day or gate.last_landing_day()
        run_id = args.run_id or f"cli__{day.isoformat()}"
        results = gate.run(names, day, run_id, log_line=print,
                           whole_history=args.whole_history)
    except gate.GateFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    except suites.SuiteError as exc:
        print(f"pulse gate: {exc}", file=sys.stderr)
        return 2
    print(f"passed: {'; '.join(r.summary() for r in results)}")
    print(f"results: quality.check_results where run_id = '{run_id}'; "
          f"Data Docs: {gate.data_docs_dir() / 'index.html'}")
    return 0


def _cmd_summary(_: argparse.Namespace) -> int:
    from pulse import summary

    print(summary.collect().render())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = cliargs.OneLineParser(
        prog="pulse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("warehouse", help="manage the local PostgreSQL cluster")
    p.add_argument("action", choices=["up", "down", "status", "psql", "url"])
    p.add_argument("rest", nargs=argparse.REMAINDER, help="extra arguments for psql")
    p.set_defaults(func=_cmd_warehouse)

    sub.add_parser("env", help="print shell exports for dbt and psql").set_defaults(
        func=_cmd_env)
    sub.add_parser("migrate", help="apply the raw-layer DDL").set_defaults(func=_cmd_migrate)

    p = sub.add_parser("generate", help="write synthetic landing files (see --help)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("load", help="load landing files into the raw layer")
    p.add_argument("--through", type=cliargs.day,
                   help="load partitions up to this day (YYYY-MM-DD) only")
    p.add_argument("--jobs", type=cliargs.positive_int, default=None,
                   help="files loaded side by side (default: PULSE_LOAD_JOBS, else the cores)")
    p.set_defaults(func=_cmd_load)

    for name, func, what in (("airflow", _cmd_airflow, "Airflow's CLI"),
                             ("dbt", _cmd_dbt, "dbt in dbt_project/")):
        p = sub.add_parser(name, help=f"{what} with Pulse's settings", add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=func)

    p = sub.add_parser("demo", help="the whole path quietly: data, nightly runs, training, "
                       "scores, webhooks (full log in $PULSE_HOME/logs/)")
    p.add_argument("--seed", type=cliargs.non_negative_int, default=42)
    p.add_argument("--size", default="demo", choices=["tiny", "demo", "peer"])
    p.add_argument("--dirty", type=cliargs.fraction, default=0.01,
                   help="share of faulty lines to inject (default 0.01)")
    for name, what in (("tenants", "tenants"), ("users", "users"),
                       ("days", "days of data (training needs 89 before the last day)")):
        p.add_argument(f"--{name}", type=cliargs.positive_int, default=None,
                       help=f"{what} instead of the size's")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("gate", help="run the quality suites of expectations/ (GX)")
    p.add_argument("suites", nargs="*", metavar="SUITE",
                   help="raw, star, marts, volume, after_load, after_dbt or all (default)")
    p.add_argument("--day", type=cliargs.day,
                   help="the night to check, YYYY-MM-DD (default: last loaded day)")
    p.add_argument("--run-id", help="key of the results (default: cli__<day>)")
    p.add_argument("--whole-history", action="store_true",
                   help="check every row of the event-grain models, not only those "
                        "written since the suite last passed")
    p.set_defaults(func=_cmd_gate)

    sub.add_parser("summary", help="rows per layer, quarantine by reason").set_defaults(
        func=_cmd_summary)

    from pulse.webhooks.cli import add_parser as add_webhooks_parser

    add_webhooks_parser(sub)

    from pulse.ml.cli import add_parser as add_ml_parser

    add_ml_parser(sub)

    from pulse.privacy.cli import add_parser as add_privacy_parser

    add_privacy_parser(sub)
    from pulse.dashboards.cli import add_parser as add_dashboards_parser

    add_dashboards_parser(sub)
    from pulse.metabase.cli import add_parser as add_metabase_parser

    add_metabase_parser(sub)
    return parser


# Commands whose arguments belong to another program: argparse would try to read them.
PASSTHROUGH = {"generate": _cmd_generate, "airflow": _cmd_airflow, "dbt": _cmd_dbt}


# Errors a person can act on: their message says what to do, and a traceback would hide it.
USER_ERRORS: tuple[type[Exception], ...] = (warehouse.WarehouseError, ConfigError)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in PASSTHROUGH:
            return int(PASSTHROUGH[argv[0]](argparse.Namespace(rest=argv[1:])) or 0)
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        print(f"pulse: {exc}", file=sys.stderr)
        return cliargs.EXIT_USAGE
    except (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName) as exc:
        # a warehouse that was never migrated or built: say which step is missing
        missing = str(exc).splitlines()[0].removeprefix("ERROR:").strip()
        print(f"pulse: the warehouse is not set up for this ({missing}): run `pulse migrate`, "
              "then a nightly run (`make demo` does both)", file=sys.stderr)
        return cliargs.EXIT_USAGE
    except BrokenPipeError:
        # the reader went away (`pulse demo | head`): stop quietly, as Unix tools do, and
        # send whatever is still buffered nowhere instead of failing again at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
