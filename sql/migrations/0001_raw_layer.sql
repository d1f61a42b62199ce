-- The raw layer: what arrived, as it arrived. Append-only; duplicates are kept here and
-- removed in staging (dbt). Applied once by `pulse migrate` and recorded in
-- raw.schema_migrations; to change it, add a new numbered file, never edit this one.

create schema if not exists raw;

-- One row per landing file. A file is loaded in one transaction, so a committed row says
-- `loaded`; `failed` rows record files that could not be read and may be landed again.
create table raw.load_ledger (
    batch_id        bigint generated always as identity primary key,
    file_path       text        not null unique,   -- relative to the landing folder
    kind            text        not null check (kind in ('events', 'accounts')),
    partition_date  date        not null,          -- the dt= of the file's folder
    sha256          text        not null,
    bytes           bigint      not null,
    rows_loaded     bigint,
    rows_rejected   bigint,
    status          text        not null check (status in ('loading', 'loaded', 'failed')),
    error           text,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz
);

-- Valid event lines. The typed columns are the ones every downstream step filters or
-- deduplicates on; everything else stays in the payload, exactly as sent.
-- No primary key or foreign key: each would cost the bulk COPY a check per row, and the
-- loader's per-file transaction already guarantees (batch_id, line_number) is unique.
create table raw.events (
    event_id     text        not null,
    tenant_id    text        not null,
    event_ts     timestamptz not null,   -- the event's own timestamp
    received_at  timestamptz not null,   -- when the collector received it (falls back to load time)
    batch_id     bigint      not null,   -- raw.load_ledger.batch_id
    line_number  integer     not null,   -- 1-based line in the landing file
    loaded_at    timestamptz not null default now(),
    payload      jsonb       not null
);
-- Batches arrive in increasing batch_id order, so a BRIN index finds "rows newer than the
-- last build" for the price of a few pages.
create index events_batch_brin on raw.events using brin (batch_id);

-- The billing system's daily accounts export, one row per tenant and export day.
create table raw.accounts (
    export_date  date        not null,
    tenant_id    text        not null,
    batch_id     bigint      not null,
    line_number  integer     not null,
    loaded_at    timestamptz not null default now(),
    payload      jsonb       not null
);
create index accounts_tenant on raw.accounts (tenant_id);

-- Quarantine: every line that was not loaded, with the reason, so nothing is lost silently.
create table raw.rejected_events (
    batch_id     bigint      not null,
    file_path    text        not null,
    kind         text        not null,          -- events or accounts
    line_number  integer     not null,
    reason_code  text        not null,          -- malformed_json, missing_field, ...
    reason       text        not null,          -- the detail a person reads
    tenant_id    text,                          -- when the line had a readable one
    line         text        not null,          -- the line as text (invalid UTF-8 replaced)
    rejected_at  timestamptz not null default now(),
    primary key (batch_id, line_number)
);
