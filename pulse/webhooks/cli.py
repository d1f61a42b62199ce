"""`pulse webhooks ...`: endpoints, delivery and replays.

    pulse webhooks endpoints add TENANT URL [--event-type T ...] [--filter JSON] [--rate-limit N]
    pulse webhooks endpoints list [--tenant TENANT]
    pulse webhooks endpoints disable|enable ENDPOINT_ID
    pulse webhooks endpoints rotate ENDPOINT_ID [--overlap-hours H]   (0: revoke at once)
    pulse webhooks secrets reencrypt [--new-key]      re-encrypt every secret (new key)
    pulse webhooks secrets new-key                    print a fresh PULSE_SECRETS_KEY
    pulse webhooks deliver                           send what is due now
    pulse webhooks fill-outbox DAY                   queue a day's announcements
    pulse webhooks replay MESSAGE_ID [--endpoint ID]
    pulse webhooks replay --endpoint ID --abandoned
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta

from pulse import cliargs
from pulse.warehouse import connection
from pulse.webhooks import endpoints, secret_store, store
from pulse.webhooks.endpoints import EndpointError
from pulse.webhooks.secret_store import SecretKeyError
from pulse.webhooks.settings import WebhookConfigError
from pulse.webhooks.urlguard import ResolutionError, UrlRefused


def add_parser(sub) -> None:
    p = sub.add_parser("webhooks", help="webhook endpoints, delivery and replays",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=run)
    cmds = p.add_subparsers(dest="webhooks_command", required=True, metavar="COMMAND")

    ep = cmds.add_parser("endpoints", help="add, list, disable, enable, rotate endpoints")
    ep_cmds = ep.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = ep_cmds.add_parser("add", help="add an endpoint (prints its secret once)")
    add.add_argument("tenant")
    add.add_argument("url")
    add.add_argument("--event-type", action="append", dest="event_types",
                     choices=[*endpoints.EVENT_TYPES, "*"],
                     help="subscribe to this type (repeat; default: all)")
    add.add_argument("--filter", default="{}",
                     help='JSON the payload must contain, e.g. \'{"risk_band": "high"}\'')
    add.add_argument("--rate-limit", type=float, default=10.0, help="requests per second")
    add.add_argument("--max-batch", type=cliargs.positive_int, default=None,
                     help="events per request")
    lst = ep_cmds.add_parser("list", help="list endpoints (never their secrets)")
    lst.add_argument("--tenant")
    for action in ("disable", "enable"):
        ep_cmds.add_parser(action, help=f"{action} an endpoint").add_argument("endpoint_id")
    rot = ep_cmds.add_parser("rotate", help="new secret; the old one signs for 24 h "
                             "(--overlap-hours 0 revokes it at once)")
    rot.add_argument("endpoint_id")
    rot.add_argument("--overlap-hours", type=cliargs.hours, default=24.0,
                     help="hours the old secret keeps signing (default 24; 0: revoked now)")

    sec = cmds.add_parser("secrets", help="the key that encrypts the signing secrets")
    sec_cmds = sec.add_subparsers(dest="action", required=True, metavar="ACTION")
    re_enc = sec_cmds.add_parser("reencrypt", help="re-encrypt every secret under the "
                                 "first key of PULSE_SECRETS_KEY (or a new key file key)")
    re_enc.add_argument("--new-key", action="store_true",
                        help="generate a new key in $PULSE_HOME/secrets.key and drop the old")
    sec_cmds.add_parser("new-key", help="print a fresh key for PULSE_SECRETS_KEY")

    cmds.add_parser("deliver", help="send every batch that is due now")
    fill = cmds.add_parser("fill-outbox", help="queue a day's announcements")
    fill.add_argument("day", type=cliargs.day)
    rep = cmds.add_parser("replay", help="send a message again, or an endpoint's abandoned ones")
    rep.add_argument("message_id", nargs="?")
    rep.add_argument("--endpoint")
    rep.add_argument("--abandoned", action="store_true")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (EndpointError, UrlRefused, WebhookConfigError, SecretKeyError) as exc:
        print(f"pulse webhooks: {exc}", file=sys.stderr)
        return 2
    except ResolutionError as exc:
        print(f"pulse webhooks: {exc}: check the host name, or try again when DNS answers",
              file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    cmd = args.webhooks_command
    if cmd == "endpoints":
        return _endpoints(args)
    if cmd == "secrets":
        return _secrets(args)
    if cmd == "deliver":
        from pulse.webhooks.deliver import deliver_due

        print(json.dumps(deliver_due(), sort_keys=True))
    elif cmd == "fill-outbox":
        from pulse.webhooks.outbox import fill_outbox

        print(json.dumps(fill_outbox(args.day), sort_keys=True))
    elif cmd == "replay":
        with connection() as conn:
            n = store.replay(conn, message_id=args.message_id, endpoint_id=args.endpoint,
                             abandoned=args.abandoned)
        print(f"{n} deliver{'y' if n == 1 else 'ies'} queued again; "
              "`pulse webhooks deliver` (or the pulse_delivery DAG) sends them")
    return 0


def _endpoints(args: argparse.Namespace) -> int:
    if args.action == "add":
        flt = endpoints.parse_filter(args.filter)
        ep, secret = endpoints.add(args.tenant, args.url, event_types=args.event_types,
                                   filter=flt, rate_limit_per_second=args.rate_limit,
                                   max_batch_size=args.max_batch)
        print(f"endpoint {ep.endpoint_id} for tenant {ep.tenant_id}: {ep.url}")
        # The one time the secret is shown: the receiver needs it to verify signatures.
        print(f"signing secret (shown once, store it in the receiver): {secret.reveal()}")
    elif args.action == "list":
        for ep in endpoints.list_endpoints(tenant_id=args.tenant):
            state = "enabled" if ep.enabled else f"disabled ({ep.disabled_reason}: " \
                f"{ep.disabled_detail or '-'})"
            print(f"{ep.endpoint_id}\t{ep.tenant_id}\t{ep.url}\t{','.join(ep.event_types)}\t"
                  f"{json.dumps(ep.filter)}\t{ep.rate_limit_per_second:g}/s\t{state}")
    elif args.action == "disable":
        endpoints.disable(args.endpoint_id)
        print(f"endpoint {args.endpoint_id} disabled")
    elif args.action == "enable":
        endpoints.enable(args.endpoint_id)
        print(f"endpoint {args.endpoint_id} enabled")
    elif args.action == "rotate":
        if args.overlap_hours < 0:
            raise EndpointError("--overlap-hours cannot be negative (0 revokes the old "
                                "secret at once)")
        secret = endpoints.rotate(args.endpoint_id, timedelta(hours=args.overlap_hours))
        old = ("is revoked now" if args.overlap_hours == 0
               else f"keeps signing for {args.overlap_hours:g} hours")
        print(f"new signing secret for {args.endpoint_id} (shown once; the previous one "
              f"{old}): {secret.reveal()}")
    return 0


def _secrets(args: argparse.Namespace) -> int:
    if args.action == "new-key":
        # The one time a key is printed: the user asked for it, to put in PULSE_SECRETS_KEY.
        print(secret_store.new_key())
        return 0
    with connection() as conn:
        n = secret_store.reencrypt(conn, new_key=args.new_key)
    where = (f"a new key in {secret_store.key_file()}" if args.new_key
             else "the first key of PULSE_SECRETS_KEY" if secret_store.secrets_key_env()
             else f"the key in {secret_store.key_file()}")
    print(f"{n} signing secret(s) re-encrypted under {where}")
    return 0
