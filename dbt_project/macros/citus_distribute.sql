{#-
  Scale-out on Citus (docs/scale-out.md): a post-hook of every intermediate and marts
  model that distributes a table it built by tenant_id, co-located with raw.events, so
  the per-tenant joins of the next models run on one worker each. A no-op without the
  citus extension (plain PostgreSQL: every test and bench of this project).

  - Only tables (not views) with a tenant_id column, and only once: an incremental table
    stays distributed across runs; a table model is rebuilt by dbt as a new local table
    on every run, and distributed again.
  - A table with a unique index that leaves out tenant_id cannot be distributed by Citus
    (each worker checks uniqueness on its own shards): it stays on the coordinator and
    the build says so; docs/scale-out.md lists those keys.
-#}
{% macro citus_distribute() %}
do $citus$
declare
    rel regclass := to_regclass('{{ this.include(database=False) }}');
    known boolean;
begin
    if rel is null
       or not exists (select 1 from pg_extension where extname = 'citus')
       or (select relkind from pg_class where oid = rel) not in ('r', 'p')
       or not exists (select 1 from pg_attribute
                      where attrelid = rel and attname = 'tenant_id' and not attisdropped) then
        return;
    end if;
    -- EXECUTE: Citus' catalog and functions exist only with the extension.
    execute 'select exists (select 1 from pg_dist_partition where logicalrelid = $1)'
        into known using rel;
    if known then
        return;
    end if;
    if exists (select 1 from pg_index i
               where i.indrelid = rel and i.indisunique
                 and not exists (select 1 from pg_attribute a
                                 where a.attrelid = rel and a.attname = 'tenant_id'
                                   and a.attnum = any (i.indkey))) then
        raise notice '% keeps a unique key without tenant_id: not distributed '
                     '(docs/scale-out.md)', rel;
        return;
    end if;
    execute 'select create_distributed_table($1, ''tenant_id'', colocate_with => ''raw.events'')'
        using rel::text;
    -- The rows were copied to the shards; the coordinator's local copy is dead weight.
    execute 'select truncate_local_data_after_distributing_table($1)' using rel::text;
end
$citus$
{% endmacro %}
