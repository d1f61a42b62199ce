{#-
  Row-level security for pulse_tenant_reader on one marts relation (docs/roles.md), run as
  a post-hook of every marts model, inside the transaction that (re)builds it, so a
  rebuilt relation is never visible to the tenant reader without its policies.

  - A table with a tenant_id: RLS on; the tenant reader sees the rows whose tenant_id is
    the session's `pulse.tenant_id` (none when it is unset or empty: fail closed; rows
    without a tenant never); the analyst and the owner role see every row.
  - A view with a tenant_id: PostgreSQL views read with their owner's rights, which would
    bypass the policies. When every relation it reads is a marts table (or such a view),
    it becomes security_invoker and the tenant reader may read it (the policies of the
    tables apply); otherwise the tenant reader may not read it at all.
  - Anything without a tenant_id (all-tenant figures): not for the tenant reader.

  Roles that do not exist (a server where Pulse may not create them) are skipped.
-#}
{% macro tenant_row_security() %}
do $rls$
declare
    rel regclass := '{{ this.include(database=False) }}'::regclass;
    kind "char";
    has_tenant boolean;
    readers text := '';
    safe boolean;
begin
    if not exists (select 1 from pg_roles where rolname = 'pulse_tenant_reader') then
        return;
    end if;
    select relkind into kind from pg_class where oid = rel;
    select exists (select 1 from pg_attribute
                   where attrelid = rel and attname = 'tenant_id' and not attisdropped)
      into has_tenant;
    if not has_tenant then
        execute format('revoke all on %s from pulse_tenant_reader', rel);
        return;
    end if;

    if kind in ('r', 'p') then
        select string_agg(quote_ident(rolname), ', ') into readers from pg_roles
        where rolname in ('pulse_analyst', 'pulse_owner');
        execute format('alter table %s enable row level security', rel);
        execute format('drop policy if exists tenant_rows on %s', rel);
        execute format('create policy tenant_rows on %s for select to pulse_tenant_reader '
                       'using (tenant_id::text = nullif(current_setting(''pulse.tenant_id'', '
                       'true), ''''))', rel);
        execute format('drop policy if exists all_rows on %s', rel);
        if readers is not null then
            execute format('create policy all_rows on %s for select to %s using (true)',
                           rel, readers);
        end if;
        execute format('grant select on %s to pulse_tenant_reader', rel);
    elsif kind = 'v' then
        -- every relation the view's query reads (its rewrite rule's dependencies)
        select coalesce(bool_and(
                   n.nspname = 'marts'
                   and (c.relkind in ('r', 'p')
                        or (c.relkind = 'v'
                            and coalesce(c.reloptions @> array['security_invoker=true'], false)))
               ), true)
          into safe
          from pg_rewrite r
          join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
               and d.refclassid = 'pg_class'::regclass and d.refobjid <> rel
          join pg_class c on c.oid = d.refobjid
          join pg_namespace n on n.oid = c.relnamespace
         where r.ev_class = rel;
        if safe then
            execute format('alter view %s set (security_invoker = true)', rel);
            execute format('grant select on %s to pulse_tenant_reader', rel);
        else
            execute format('revoke all on %s from pulse_tenant_reader', rel);
        end if;
    else
        execute format('revoke all on %s from pulse_tenant_reader', rel);
    end if;
end
$rls$
{% endmacro %}
