"""`pulse privacy erase|verify|apply|purge|pii-macro` (docs/privacy.md)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date


def add_parser(sub) -> None:
    p = sub.add_parser("privacy", help="erasure, verification, retention purge, PII rules")
    pv = p.add_subparsers(dest="privacy_command", required=True, metavar="PRIVACY_COMMAND")

    e = pv.add_parser("erase", help="remove a user (--user) or a whole tenant from every layer")
    e.add_argument("--tenant", required=True, help="the tenant id")
    e.add_argument("--user", help="the user id (omit to erase the whole tenant)")
    e.add_argument("--at-next-run", action="store_true",
                   help="only record the request; the nightly run applies it")

    v = pv.add_parser("verify", help="scan every table and text/JSON column for the subject;"
                      " exit 0 only when nothing is left")
    v.add_argument("--tenant", required=True)
    v.add_argument("--user")

    pv.add_parser("apply", help="apply pending erasure requests and ML-consent withdrawals"
                  " (the nightly tasks apply_privacy and apply_consent, without the purge)")

    g = pv.add_parser("purge", help="remove data past its retention period")
    g.add_argument("--as-of", type=date.fromisoformat,
                   help="count the periods back from this day (default: today, UTC)")

    m = pv.add_parser("pii-macro", help="write dbt_project/macros/pii_fields.sql from the contract")
    m.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    p.set_defaults(func=run)


def _subject(args: argparse.Namespace):
    from pulse.privacy.erasure import Subject

    tenant = (args.tenant or "").strip()
    user = args.user.strip() if args.user is not None else None
    if not tenant or user == "":
        return None
    return Subject(tenant, user)


def run(args: argparse.Namespace) -> int:
    from pulse.privacy.erasure import ErasureError
    from pulse.privacy.keys import PiiKeyError

    try:
        return _run(args)
    except (ErasureError, PiiKeyError, ValueError) as exc:
        print(f"pulse privacy: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    cmd = args.privacy_command
    if cmd in ("erase", "verify"):
        subject = _subject(args)
        if subject is None:
            print(f"pulse privacy {cmd}: --tenant and --user must not be empty", file=sys.stderr)
            return 2
        if cmd == "erase":
            return _erase(subject, args.at_next_run)
        return _verify(subject)
    if cmd == "apply":
        from pulse import migrate
        from pulse.privacy.consent import apply_ml_consent
        from pulse.privacy.erasure import apply_pending

        migrate.apply(log=lambda _m: None)
        print(json.dumps({"erasures": apply_pending(),
                          "ml_feature_rows_deleted": apply_ml_consent()}, indent=2))
        return 0
    if cmd == "purge":
        from pulse import migrate
        from pulse.privacy.retention import purge

        migrate.apply(log=lambda _m: None)
        removed = purge(args.as_of)
        print(f"{sum(r['rows_removed'] for r in removed)} row(s) removed; "
              "see privacy.purge_log")
        return 0
    from pulse.privacy import pii

    if args.check:
        if pii.MACRO_PATH.read_text(encoding="utf-8") != pii.render_macro():
            print(f"{pii.MACRO_PATH} is out of date: run `pulse privacy pii-macro`",
                  file=sys.stderr)
            return 1
        return 0
    print(f"{pii.MACRO_PATH}: {'written' if pii.write_macro() else 'up to date'}")
    return 0


def _erase(subject, at_next_run: bool) -> int:
    from pulse import migrate
    from pulse.privacy.erasure import erase

    migrate.apply(log=lambda _m: None)
    outcome = erase(subject, apply_now=not at_next_run)
    if at_next_run:
        print(f"erasure request {outcome.request_id} recorded for {subject.describe()}; "
              "the next nightly run applies it")
        return 0
    print(f"erasure request {outcome.request_id}: {subject.describe()} removed, "
          f"{sum(outcome.counts.values()):,} row(s):")
    for table, n in sorted(outcome.counts.items()):
        print(f"  {table}: {n:,}")
    print("Aggregates stop counting them after the next nightly run; "
          f"check with `pulse privacy verify --tenant {subject.tenant_id}"
          + (f" --user {subject.user_id}`" if subject.user_id else "`"))
    return 0


def _verify(subject) -> int:
    from pulse.privacy.erasure import traces

    found = traces(subject)
    if not found:
        print(f"no trace of {subject.describe()} in any table or view")
        return 0
    print(f"{subject.describe()} is still in {len(found)} relation(s):")
    for rel, n in sorted(found.items()):
        print(f"  {rel}: {n:,} row(s)")
    print("Run `pulse privacy erase` for this subject (or the nightly run, if the request "
          "is pending), then verify again.")
    return 1
