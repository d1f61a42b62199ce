-- Scale-out on Citus (docs/scale-out.md): the event-grain tables are distributed by
-- tenant_id, co-located with raw.events, so every per-tenant join and every tenant's
-- deletion runs on one worker; the small tables every row points at are reference tables
-- (a copy on each worker). Applied only where the citus extension exists; elsewhere this
-- migration is a no-op and the tables stay plain PostgreSQL tables.
--
-- Idempotent: a table Citus already knows is skipped, so on a warehouse that gained
-- Citus after this migration ran, `psql -f` this file again (docs/scale-out.md).
--
-- Left on the coordinator (plain tables): raw.rejected_events and raw.held_events (their
-- key is (batch_id, line_number), a line may have no tenant, and they hold faults only),
-- and the quality, delivery and privacy bookkeeping (a few rows per night).
do $citus$
declare
    tbl record;
    known boolean;
begin
    if not exists (select 1 from pg_extension where extname = 'citus') then
        raise notice 'citus is not installed: Pulse''s tables stay local (docs/scale-out.md)';
        return;
    end if;
    -- EXECUTE: pg_dist_partition and Citus' functions exist only with the extension, so
    -- no statement that names them is planned without it.
    for tbl in
        select * from (values
            (1, 'raw.load_ledger', 'reference', null),
            (2, 'ml.model_registry', 'reference', null),
            (3, 'raw.events', 'distributed', 'none'),
            (4, 'raw.accounts', 'distributed', 'raw.events'),
            (5, 'ml.ml_features', 'distributed', 'raw.events')
        ) as t (ord, name, how, colocate_with)
        order by ord
    loop
        continue when to_regclass(tbl.name) is null;
        execute 'select exists (select 1 from pg_dist_partition where logicalrelid = $1)'
            into known using to_regclass(tbl.name);
        continue when known;
        if tbl.how = 'reference' then
            execute 'select create_reference_table($1)' using tbl.name;
        else
            execute 'select create_distributed_table($1, ''tenant_id'', colocate_with => $2)'
                using tbl.name, tbl.colocate_with;
        end if;
    end loop;
end
$citus$;
