"""Fill the outbox with the night's announcements (chosen by dbt), once.

`marts.webhook_announcements` decides what to announce and gives every message a stable
id; this module only copies the day's rows into delivery.messages and routes each new
message to the tenant's enabled endpoints that subscribe to its type and whose filter its
payload matches. Both inserts skip what is already there, so running a day twice adds
nothing.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from pulse.warehouse import transaction

log = logging.getLogger(__name__)

ANNOUNCEMENTS = "marts.webhook_announcements"


def fill_outbox(day: date) -> dict[str, Any]:
    """Queue `day`'s announcements; returns counts (for the nightly DAG's task output).

    Call after the day's scores are written (the nightly `score_users` task), before the
    marts Asset is published: the pulse_delivery DAG then sends them.
    """
    with transaction() as conn, conn.cursor() as cur:
        cur.execute("select to_regclass(%s)", (ANNOUNCEMENTS,))
        if cur.fetchone()[0] is None:
            raise RuntimeError(
                f"{ANNOUNCEMENTS} does not exist: build the dbt project first "
                "(`pulse dbt build`, or run the nightly DAG)")
        cur.execute(
            "insert into delivery.messages (message_id, tenant_id, event_type, user_id, "
            "announced_on, payload) "
            f"select message_id, tenant_id, event_type, user_id, announced_on, payload "
            f"from {ANNOUNCEMENTS} where announced_on = %s "
            "order by event_type, tenant_id, user_id, message_id "
            "on conflict (message_id) do nothing", (day,))
        messages = cur.rowcount
        # Routing, in creation order so each endpoint's batches keep it (outbox.seq).
        cur.execute(
            "insert into delivery.outbox (message_id, endpoint_id) "
            "select m.message_id, e.endpoint_id from delivery.messages m "
            "join delivery.endpoints e on e.tenant_id = m.tenant_id and e.enabled "
            "  and ('*' = any(e.event_types) or m.event_type = any(e.event_types)) "
            "  and m.payload @> e.filter "
            "where m.announced_on = %s "
            "order by m.created_at, m.event_type, m.tenant_id, m.user_id, m.message_id "
            "on conflict (message_id, endpoint_id) do nothing", (day,))
        routed = cur.rowcount
        cur.execute("select event_type, count(*) from delivery.messages "
                    "where announced_on = %s group by 1 order by 1", (day,))
        by_type = dict(cur.fetchall())
    report = {"day": day.isoformat(), "new_messages": messages, "new_deliveries": routed,
              **{f"messages_{t}": n for t, n in by_type.items()}}
    log.info("outbox for %s: %s", day, report)
    return report
