-- raw.events partitioned by month of event_ts (docs/loading.md, "Partitions").
--
-- One partition per calendar month (UTC), raw.events_YYYYMM, plus raw.events_default for
-- whatever no monthly partition covers yet (a late or far-off timestamp): no row is ever
-- refused for its month. The loader creates the months of the files it loads ahead of the
-- COPY (raw.ensure_events_partition), and retention drops a month whose every row has
-- expired instead of deleting its rows one by one (pulse/privacy/retention.py).
-- raw.events has no unique key (the loader's per-file transaction keeps
-- (batch_id, line_number) unique, see 0001), so no key has to grow the partition key.

-- The month [month, month + 1) as a partition of raw.events, created once. Rows of that
-- month already in the default partition are moved into it first (attaching would
-- otherwise fail on them). Security definer: the loader role may create months without
-- owning raw.events.
create function raw.ensure_events_partition(month date) returns boolean
language plpgsql security definer set search_path = pg_catalog, raw as $fn$
declare
    first_day date := date_trunc('month', month)::date;
    name text := 'events_' || to_char(first_day, 'YYYYMM');
    lo timestamptz := (first_day::text || ' 00:00:00+00')::timestamptz;
    hi timestamptz := ((first_day + interval '1 month')::date::text || ' 00:00:00+00')::timestamptz;
begin
    if to_regclass('raw.' || name) is not null then
        return false;
    end if;
    -- Two loaders creating the same month: the second waits here, then finds it.
    perform pg_advisory_xact_lock(7315011);
    if to_regclass('raw.' || name) is not null then
        return false;
    end if;
    execute format('create table raw.%I (like raw.events including defaults)', name);
    execute format('with moved as (delete from raw.events_default where event_ts >= %L'
                   ' and event_ts < %L returning *) insert into raw.%I select * from moved',
                   lo, hi, name);
    execute format('alter table raw.events attach partition raw.%I'
                   ' for values from (%L) to (%L)', name, lo, hi);
    return true;
end
$fn$;

-- The table itself, rebuilt as a partitioned one with the same columns, in one transaction.
alter table raw.events rename to events_unpartitioned;
alter index raw.events_batch_brin rename to events_unpartitioned_batch_brin;

create table raw.events (
    event_id     text        not null,
    tenant_id    text        not null,
    event_ts     timestamptz not null,   -- the event's own timestamp; the partition key
    received_at  timestamptz not null,   -- when the collector received it (falls back to load time)
    batch_id     bigint      not null,   -- raw.load_ledger.batch_id
    line_number  integer     not null,   -- 1-based line in the landing file
    loaded_at    timestamptz not null default now(),
    payload      jsonb       not null
) partition by range (event_ts);
create table raw.events_default partition of raw.events default;
-- On the parent: every partition gets its own, created with it.
create index events_batch_brin on raw.events using brin (batch_id);

-- Every month the existing rows cover, then the rows themselves.
select raw.ensure_events_partition(m::date)
from (select distinct date_trunc('month', event_ts at time zone 'UTC') as m
      from raw.events_unpartitioned) as months;
insert into raw.events select * from raw.events_unpartitioned;  -- noqa: AM04
drop table raw.events_unpartitioned;

do $grants$
begin
    if exists (select 1 from pg_roles where rolname = 'pulse_loader') then
        grant select, insert, update on raw.events to pulse_loader;
        grant execute on function raw.ensure_events_partition(date) to pulse_loader;
    end if;
end
$grants$;
