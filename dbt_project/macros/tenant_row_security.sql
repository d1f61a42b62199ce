{#-
  Row-level security for pulse_tenant_reader on one marts relation (docs/roles.md), run as
  a post-hook of every marts model, inside the transaction that (re)builds it, so a
  rebuilt relation is never visible to the tenant reader without its policies.

  - A table with a tenant_id: RLS on; the tenant reader sees the rows whose tenant_id is
    the session's `pulse.tenant_id` (none when it is unset or empty: fail closed; rows
    without a tenant never); the analyst and the owner role see every row.
  - A view with a tenant_id: PostgreSQL views read with their owner's rights, which would
    bypass the policies. When every relation it reads is a marts table (or such a view),
    it becomes security_invoker: the tables' policies apply to whoever reads it. A view
    that reads outside marts (intermediate, ml, delivery) cannot be invoker-rights, since
    the analyst may not read those schemas; it is wrapped instead in a security_barrier
    view applying the same rule as the policies (`tenant_rule`): a tenant reader sees its
    tenant's rows, any other role every row.
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
    -- who may see a row: the one rule, for the policies and the wrapped views alike
    tenant_rule constant text :=
        $r$tenant_id::text = nullif(current_setting('pulse.tenant_id', true), '')$r$;
    -- a reader that is not a tenant reader (pg_has_role is true for a superuser for
    -- every role, hence the second test)
    other_role constant text :=
        $r$not pg_catalog.pg_has_role(current_user, 'pulse_tenant_reader', 'USAGE')
           or (select r.rolsuper from pg_catalog.pg_roles r where r.rolname = current_user)$r$;
    definition text;
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
                       'using (%s)', rel, tenant_rule);
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
        else
            definition := rtrim(rtrim(pg_get_viewdef(rel)), ';');
            -- the reader's role first, as a subquery: PostgreSQL evaluates it once per
            -- query (an InitPlan), where written beside the row's test it called
            -- pg_has_role for every row (fct_sessions read whole by the pipeline:
            -- 256-453 ms, 99-105 ms this way; docs/roles.md)
            execute format('create or replace view %s with (security_barrier = true) as '
                           'select * from (%s) as tenant_scoped where (select %s) or (%s)',
                           rel, definition, other_role, tenant_rule);
        end if;
        execute format('grant select on %s to pulse_tenant_reader', rel);
    else
        execute format('revoke all on %s from pulse_tenant_reader', rel);
    end if;
end
$rls$
{% endmacro %}
