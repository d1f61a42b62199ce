"""The application's daily users export: user settings, with the consent flags.

One file a day beside the accounts export (docs/event-contract.md, "Users export"): the
users whose settings changed that day — created (signed up), or changed their consent —
and, in the first export, every user who already existed. The latest row of a user is
their current settings; Pulse takes consent from it (docs/privacy.md).
"""

from __future__ import annotations

from datetime import timedelta

from .world import World

CONSENT_EVENTS = ("user.signed_up", "user.consent_updated")


def _midnight(world: World, day: int) -> str:
    return (world.start + timedelta(days=day)).isoformat() + "T00:00:00.000Z"


def users_rows(world: World, d: int, clean: list) -> list[dict]:
    """The export of day d; `clean` is the day's simulated events, whose consent events
    give the exact time a choice was made."""
    export_date = (world.start + timedelta(days=d)).isoformat()
    when: dict[tuple[str, str], tuple[str, str]] = {}
    for _, _, ev in clean:
        if ev["event_name"] in CONSENT_EVENTS:
            when[(ev["tenant_id"], ev["user_id"])] = (ev["event_name"], ev["timestamp"])
    rows = []
    for u in world.users:
        t = world.tenants[u.tenant]
        if d < t.created_day:
            continue
        key = (t.tenant_id, u.user_id)
        created = u.signup_day == d or (d == max(0, t.created_day) and u.signup_day < d)
        changed = when.get(key, ("", ""))[0] == "user.consent_updated"
        if not (created or changed):
            continue
        consent = u.consent_change[1] if changed and u.consent_change else u.consent
        created_at = (when[key][1] if u.signup_day == d and key in when
                      else _midnight(world, u.signup_day))
        rows.append({
            "export_date": export_date,
            "tenant_id": t.tenant_id,
            "user_id": u.user_id,
            "role": u.role,
            "created_at": created_at,
            "consent": consent,
            "consent_updated_at": when[key][1] if changed else created_at,
        })
    rows.sort(key=lambda row: (row["tenant_id"], row["user_id"]))
    return rows
