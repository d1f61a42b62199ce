-- What changed in the raw sources since the nightly dbt build last ran, so a night with
-- nothing new skips the build (docs/incremental.md "A night with nothing new").
--
-- Every statement that writes a raw source table dbt reads leaves a row in
-- raw.source_changes, whoever runs it (the loader, erasure, the retention purge, an
-- engineer's fix by hand): statement-level triggers, one row per statement, not per row.
-- An update or delete that touched no row (the retention purge's nightly delete finds
-- nothing most nights) leaves none: those triggers see the statement's transition table.
-- Inserts are counted without one, because raw.events' COPY would otherwise keep every
-- row it loads a second time; nothing inserts into these tables without rows to insert.
-- Dropping a whole partition fires no trigger: the purge records it itself
-- (pulse/privacy/retention.py).
--
-- raw.dbt_builds: one row per planned build, with the changes it read before it started.
-- Its changes are marked consumed only once the build has succeeded, so a change that
-- commits while a build runs, or a build that fails, makes the next night build again.
create table if not exists raw.source_changes (
    change_id bigint generated always as identity primary key,
    source_table text not null,
    operation text not null,
    changed_at timestamptz not null default clock_timestamp(),
    consumed_by bigint
);

create index if not exists source_changes_pending
    on raw.source_changes (change_id) where consumed_by is null;

create table if not exists raw.dbt_builds (
    build_id bigint generated always as identity primary key,
    planned_at timestamptz not null default clock_timestamp(),
    reason text not null,
    project_sha256 text not null,
    change_ids bigint[] not null,
    finished_at timestamptz,
    relations_md5 text
);

-- The loader reads and writes the raw layer, these two tables with it (docs/roles.md);
-- the triggers need no grant: their functions are SECURITY DEFINER.
do $grants$
begin
    if exists (select 1 from pg_roles where rolname = 'pulse_loader') then
        grant select, insert, update on raw.source_changes, raw.dbt_builds to pulse_loader;
    end if;
end
$grants$;

-- SECURITY DEFINER: the roles that write raw tables (pulse_loader) write the log through
-- it whatever their grants; search_path pinned so the function cannot be redirected.
create or replace function raw.note_source_change() returns trigger
language plpgsql security definer set search_path = pg_catalog, raw as $$
begin
    insert into raw.source_changes (source_table, operation)
    values (tg_table_schema || '.' || tg_table_name, lower(tg_op));
    return null;
end
$$;

create or replace function raw.note_rows_changed() returns trigger
language plpgsql security definer set search_path = pg_catalog, raw as $$
begin
    if exists (select from changed) then
        insert into raw.source_changes (source_table, operation)
        values (tg_table_schema || '.' || tg_table_name, lower(tg_op));
    end if;
    return null;
end
$$;

-- The raw tables declared as dbt sources (dbt_project/models/staging/_pulse__sources.yml;
-- tests/test_build_plan.py checks the list). Not on Citus, which does not fire a trigger
-- of a distributed table's coordinator for its shards' writes: there the plan finds no
-- trigger and builds every night (docs/scale-out.md).
do $triggers$
declare
    tbl text;
begin
    if exists (select 1 from pg_extension where extname = 'citus') then
        raise notice 'citus is installed: raw changes are not tracked, every night builds';
        return;
    end if;
    foreach tbl in array array['events', 'accounts', 'users', 'rejected_events',
                               'held_events', 'load_ledger'] loop
        continue when to_regclass('raw.' || tbl) is null;
        execute format('drop trigger if exists source_change_insert on raw.%I', tbl);
        execute format('create trigger source_change_insert after insert on raw.%I'
                       ' for each statement execute function raw.note_source_change()', tbl);
        execute format('drop trigger if exists source_change_truncate on raw.%I', tbl);
        execute format('create trigger source_change_truncate after truncate on raw.%I'
                       ' for each statement execute function raw.note_source_change()', tbl);
        execute format('drop trigger if exists source_change_update on raw.%I', tbl);
        execute format('create trigger source_change_update after update on raw.%I'
                       ' referencing new table as changed'
                       ' for each statement execute function raw.note_rows_changed()', tbl);
        execute format('drop trigger if exists source_change_delete on raw.%I', tbl);
        execute format('create trigger source_change_delete after delete on raw.%I'
                       ' referencing old table as changed'
                       ' for each statement execute function raw.note_rows_changed()', tbl);
    end loop;
end
$triggers$;
