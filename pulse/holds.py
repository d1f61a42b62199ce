"""Hold-and-admit: event lines of a tenant that no accounts export has listed yet.

The billing export lags product events by a day or more, so such a line is held in
raw.held_events rather than quarantined. The load of an accounts file that lists the
tenant admits it into raw.events; a line still held when the partition day being loaded
is `unknown_tenant_grace_days` or more after its event's UTC day is quarantined for good
as unknown_tenant (0: at once). Both run inside the loader's per-file transaction and
advisory lock, so they happen exactly once, in load order, whoever loads
(docs/loading.md).
"""

from __future__ import annotations

from datetime import date

# raw.events columns an admitted line fills; the batch and line number are the admitting
# batch's, so incremental staging (batch_id > newest staged) picks the rows up.
_ADMIT = """
with picked as (
    select h.batch_id, h.line_number,
           row_number() over (order by h.batch_id, h.line_number) as n
    from raw.held_events as h
    where h.status = 'held'
      and h.tenant_id in (select a.tenant_id from raw.accounts as a where a.batch_id = %(b)s)
)
update raw.held_events as h
set status = 'admitted', resolved_batch_id = %(b)s, resolved_line_number = p.n,
    resolved_at = now()
from picked as p
where h.batch_id = p.batch_id and h.line_number = p.line_number
"""

_INSERT_ADMITTED = """
insert into raw.events (event_id, tenant_id, event_ts, received_at, batch_id, line_number,
                        payload)
select event_id, tenant_id, event_ts, received_at, resolved_batch_id, resolved_line_number,
       payload
from raw.held_events
where resolved_batch_id = %(b)s and status = 'admitted'
"""

_EXPIRE = """
with gone as (
    update raw.held_events
    set status = 'expired', resolved_batch_id = %(b)s, resolved_at = now()
    where status = 'held' and (event_ts at time zone 'UTC')::date <= %(day)s::date - %(grace)s
    returning batch_id, file_path, line_number, tenant_id, event_ts, line
)
insert into raw.rejected_events (batch_id, file_path, kind, line_number, reason_code, reason,
                                 tenant_id, line)
select batch_id, file_path, 'events', line_number, 'unknown_tenant',
       format('tenant %%s was in no accounts export loaded through %%s, %%s or more days'
              ' after the event''s day %%s (PULSE_UNKNOWN_TENANT_GRACE_DAYS)',
              left(tenant_id, 60), %(day)s::date, %(grace)s,
              (event_ts at time zone 'UTC')::date),
       tenant_id, line
from gone
"""

# Moves the lines one batch resolved from rows_held to `column` on their own files' rows.
_MOVE = """
update raw.load_ledger as l
set rows_held = l.rows_held - c.n, {column} = l.{column} + c.n
from (select batch_id, count(*) as n from raw.held_events
      where resolved_batch_id = %(b)s and status = %(status)s group by batch_id) as c
where l.batch_id = c.batch_id
"""


def admit(cur, batch_id: int) -> int:
    """Admit every held line whose tenant the accounts file loaded as `batch_id` lists."""
    cur.execute(_ADMIT, {"b": batch_id})
    admitted = cur.rowcount
    if admitted:
        cur.execute(_INSERT_ADMITTED, {"b": batch_id})
        cur.execute(_MOVE.format(column="rows_admitted"), {"b": batch_id, "status": "admitted"})
    return admitted


def expire(cur, batch_id: int, day: date, grace_days: int) -> int:
    """Quarantine, as unknown_tenant, every line held past the grace period at `day`."""
    cur.execute(_EXPIRE, {"b": batch_id, "day": day, "grace": grace_days})
    expired = cur.rowcount
    if expired:
        cur.execute(_MOVE.format(column="rows_rejected"), {"b": batch_id, "status": "expired"})
    return expired
