{#-
  A post-hook of every model: a table (or a partition of one) that has never been
  analyzed is analyzed in the transaction that built it, before the next models read it.

  PostgreSQL gathers a table's statistics only when autovacuum gets to it, a minute or
  more after the rows arrived, and never for a partitioned parent. Until then the
  planner guesses: after a first build or a full refresh, every model downstream read
  `fct_events` believing 0.5 % of its events had no session_id (the default for
  `is null`) when 80 % had none, and int_sessions_inferred's query took 5.8 s instead of
  0.1 s on 1.25 M events (docs/incremental.md, "Statistics after a build"). Tables
  analyzed before are left to autovacuum: a night's new rows are a small share of them.
  An empty table has no statistics to keep, so it is analyzed again each build (at no
  cost) until it has rows.
  Views have no statistics; nothing to do for them.
-#}
{% macro analyze_if_never_analyzed() %}
{%- if config.get('materialized') in ('table', 'incremental', 'partitioned_incremental') -%}
do $analyze$
declare
    leaf regclass;
begin
    -- A partitioned table's own statistics (over all its partitions) are what a join
    -- with the whole table is planned on; without them the planner took each event_id
    -- of fct_events for 60,000 rows. ANALYZE of the parent also analyzes its partitions.
    if exists (select from pg_class where oid = '{{ this }}'::regclass and relkind = 'p')
        and not exists (select from pg_stats
                        where schemaname = '{{ this.schema }}'
                            and tablename = '{{ this.identifier }}' and inherited) then
        execute 'analyze {{ this }}';
        -- and its partitions with it: nothing is left for the loop below
        return;
    end if;
    -- "Never analyzed" is read from the statistics themselves (pg_stats, in the catalog),
    -- not from pg_stat_user_tables' last_analyze: those counters start empty in a
    -- database copied from another and after a crash, and every table then looked
    -- unanalyzed, so the first build analyzed all of them again (3.5 s of the peer
    -- bench's night on 179 days, each night starting from a copy; docs/incremental.md).
    for leaf in
        select c.oid::regclass
        from pg_class as c
        inner join pg_namespace as n on c.relnamespace = n.oid
        where c.relkind = 'r'
            and (c.oid = '{{ this }}'::regclass
                 or c.oid in (select relid from pg_partition_tree('{{ this }}'::regclass)))
            and not exists (select from pg_stats
                            where schemaname = n.nspname
                                and tablename = c.relname and not inherited)
    loop
        execute format('analyze %s', leaf);
    end loop;
end
$analyze$
{%- endif -%}
{% endmacro %}
