"""`pulse ml train|score|report`."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from pulse import cliargs


def add_parser(sub) -> None:
    p = sub.add_parser("ml", help="train, score and report the churn / LTV / propensity models")
    ml = p.add_subparsers(dest="ml_command", required=True, metavar="ML_COMMAND")

    t = ml.add_parser("train", help="train on the loaded snapshots and register the model")
    t.add_argument("--as-of", type=cliargs.day,
                   help="train as the night of this day would have (default: last loaded day)")
    for name in ("train-start", "train-end", "validation-start", "validation-end"):
        t.add_argument(f"--{name}", type=cliargs.day,
                       help="explicit range bound (give all four, or none)")
    t.add_argument("--seed", type=cliargs.non_negative_int,
                   help="random seed (default: the fixed project seed)")
    t.add_argument("--max-iter", type=cliargs.positive_int,
                   help="boosting rounds of the user model (default: the tuned value)")

    s = ml.add_parser("score", help="score every consenting user on a day")
    s.add_argument("--day", type=cliargs.day, required=True)
    s.add_argument("--model-version", help="default: the model current on that day")

    tn = ml.add_parser("tenants", help="the tenant churn model: train, score a day, report "
                       "(docs/scoring.md \"Tenant churn\")")
    tn.add_argument("action", choices=("train", "score", "report"))
    tn.add_argument("--day", type=cliargs.day, help="score: the day (required); train: as of")
    tn.add_argument("--json", action="store_true", help="report: the registry rows as JSON")

    r = ml.add_parser("report", help="per model kind: the latest model against its baselines, "
                      "with intervals, slice, lead time, backtest and the gate's verdict")
    r.add_argument("--model-version", help="default: the latest trained model of each kind")
    r.add_argument("--json", action="store_true", help="machine-readable, one JSON document")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pulse.ml.features import MissingSnapshots
    from pulse.ml.registry import RegistryError
    from pulse.ml.train import NotEnoughHistory

    try:
        return _run(args)
    except (RegistryError, MissingSnapshots, NotEnoughHistory) as exc:
        print(f"pulse ml {args.ml_command}: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.ml_command == "train":
        return _train(args)
    if args.ml_command == "tenants":
        return _tenants(args)
    if args.ml_command == "score":
        from pulse.ml.score import score_day

        result = score_day(args.day, args.model_version)
        print(json.dumps(result, indent=2))
        return 0
    return _report(args)


def _train(args: argparse.Namespace) -> int:
    from pulse.ml import jobs
    from pulse.ml.train import NotEnoughHistory

    bounds = {name: getattr(args, name) for name in jobs.RANGE_PARAMS}
    if any(bounds.values()) and not all(bounds.values()):
        print("pulse ml train: give all four of --train-start, --train-end, "
              "--validation-start and --validation-end, or none")
        return 2
    # the same parameters as a pulse_train run's, read by the same code
    params = {"as_of": args.as_of, **bounds, "seed": args.seed, "max_iter": args.max_iter}
    try:
        result = jobs.train_from_params(params)
    except (NotEnoughHistory, ValueError) as exc:
        print(f"pulse ml train: {exc}")
        return 2
    print(_figures(result["model_version"], result["ranges"], result["metrics"]))
    print(f"  {result['reason']}")  # promoted: ... or rejected: ..., with the figures
    return 0


def _tenants(args: argparse.Namespace) -> int:
    from pulse.ml import tenant
    from pulse.ml.tenant_score import score_day

    if args.action == "train":
        try:
            result = tenant.train(as_of=args.day)
        except tenant.NotEnoughHistory as exc:
            print(f"pulse ml tenants train: {exc}", file=sys.stderr)
            return 2
        print(tenant.describe(result.get("model_version", "-"), result["metrics"]))
        return 0
    if args.action == "score":
        if args.day is None:
            print("pulse ml tenants score: give --day YYYY-MM-DD", file=sys.stderr)
            return 2
        print(json.dumps(score_day(args.day), indent=2))
        return 0
    rows = tenant.report()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no tenant model yet: `pulse ml tenants train` (or the pulse_train DAG)")
        return 1
    print("\n\n".join(tenant.describe(r["model_version"], r["metrics"]) for r in rows))
    return 0


def _report(args: argparse.Namespace) -> int:
    from pulse.ml import report

    if args.model_version is None and not report.any_rows():
        print("no model yet: `pulse ml train` (or the pulse_train DAG) trains one",
              file=sys.stderr)
        return 1
    doc = report.build(args.model_version)
    print(json.dumps(doc, indent=2, default=str) if args.json else report.text(doc))
    return 0


def _figures(version: str, ranges: dict, m: dict) -> str:
    lines = [f"model {version}",
             f"  train {ranges['train_start']}..{ranges['train_end']}, validation "
             f"{ranges['validation_start']}..{ranges['validation_end']} "
             f"(data through {ranges['data_through']})",
             f"  {'':26} {'ROC AUC':>8} {'PR AUC':>8} {'Brier':>8} {'lift@10%':>9}"]
    for name in ("model", "rule_based_health_score"):
        f = m[name]
        lines.append(f"  {name:26} {f['roc_auc']:8.3f} {f['pr_auc']:8.3f} {f['brier']:8.3f} "
                     f"{f['top_decile_lift']:9.2f}")
    lines.append(f"  validation rows {m['model']['rows']:,}, churn rate "
                 f"{m['model']['base_rate']:.1%}; training rows {m['training']['rows']:,}")
    lines.append("  calibration by decile (model): predicted / observed")
    for c in m["model"]["calibration"]:
        lines.append(f"    {c['decile']:2d}  {c['mean_predicted']:.3f} / {c['observed_rate']:.3f}")
    for name, info in m["propensities"].items():
        lines.append(f"  propensity {name}: {info['kind']} ({info['training_positives']:,} "
                     f"positives of {info['training_rows']:,})")
    return "\n".join(lines)
