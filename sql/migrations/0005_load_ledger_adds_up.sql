-- The ledger adds up, and a new tenant's first events wait for its first accounts export
-- instead of being quarantined for good (docs/loading.md).
--
-- Every line of a file is now counted in exactly one of rows_loaded, rows_rejected,
-- rows_held and rows_admitted, and their sum is line_count (null for files loaded before
-- this migration, which did not count blank lines).

alter table raw.load_ledger
    add column line_count     bigint,
    add column rows_held      bigint not null default 0,
    add column rows_admitted  bigint not null default 0;

-- Event lines whose tenant was in no accounts export loaded so far. A row stays here for
-- good as the line's history: `held` while it waits, `admitted` once an export lists the
-- tenant (the line is then in raw.events under the admitting batch), `expired` once the
-- grace period passed (the line is then in raw.rejected_events as unknown_tenant).
create table raw.held_events (
    batch_id              bigint      not null,   -- the events file's batch
    file_path             text        not null,
    line_number           integer     not null,   -- 1-based line in that file
    event_id              text        not null,
    tenant_id             text        not null,
    event_ts              timestamptz not null,
    received_at           timestamptz not null,
    line                  text        not null,   -- the valid JSON line, as sent
    payload               jsonb       not null,   -- the same line, as raw.events will hold it
    held_at               timestamptz not null default now(),
    status                text        not null default 'held'
                          check (status in ('held', 'admitted', 'expired')),
    resolved_batch_id     bigint,                 -- the batch whose load admitted or expired it
    resolved_line_number  integer,                -- its line_number in raw.events, if admitted
    resolved_at           timestamptz,
    primary key (batch_id, line_number)
);
create index held_events_waiting on raw.held_events (tenant_id) where status = 'held';
create index held_events_resolved on raw.held_events (resolved_batch_id);
