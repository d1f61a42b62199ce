-- Who may read what (docs/roles.md): group roles, schema grants, the one door to the
-- webhook signing secrets, and encrypted secrets at rest.
--
-- Idempotent: every statement can run again (roles and schemas "if not exists", grants
-- and revokes are repeatable). Creating roles needs CREATEROLE or superuser; a user without
-- it (a bring-your-own server) gets a WARNING saying so, the roles part is skipped, and an
-- administrator can run this whole file later with psql as a role-creating user.
-- Relations dbt builds get their grants and row-level security from dbt itself
-- (dbt_project.yml `grants`, macros/tenant_row_security.sql), on every rebuild.

-- The schemas dbt builds into exist before dbt runs, so their owner and grants are set
-- here once instead of depending on whoever runs dbt first.
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create schema if not exists snapshots;
create schema if not exists reference;
create schema if not exists analytics;

-- Secrets at rest (docs/roles.md "Secrets"): the column holds a Fernet token, never the
-- whsec_ text. Plaintext rows written before this migration are encrypted by
-- `pulse migrate` right after (pulse/webhooks/secret_store.py), which needs the key.
do $secrets$
begin
    if exists (select 1 from information_schema.columns where table_schema = 'delivery'
               and table_name = 'endpoint_secrets' and column_name = 'secret') then
        alter table delivery.endpoint_secrets rename column secret to secret_encrypted;
    end if;
    alter table delivery.endpoint_secrets drop constraint if exists endpoint_secrets_secret_check;
    alter table delivery.endpoint_secrets drop constraint if exists endpoint_secrets_encrypted_check;
    alter table delivery.endpoint_secrets add constraint endpoint_secrets_encrypted_check
        check (secret_encrypted like 'gAAAAA%' or secret_encrypted like 'whsec\_%');
end
$secrets$;

-- The sender's only way to the secrets: the live ones of the endpoints it is sending for,
-- still encrypted. SECURITY DEFINER with a fixed search_path, so it reads the table with
-- its owner's rights and no caller can shadow what it refers to.
create or replace function delivery.live_signing_secrets(endpoint_ids text[])
returns table (endpoint_id text, secret_encrypted text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select s.endpoint_id, s.secret_encrypted
    from delivery.endpoint_secrets s
    where s.endpoint_id = any(endpoint_ids)
      and (s.expires_at is null or s.expires_at > now())
    order by s.endpoint_id, s.created_at desc
$$;
revoke all on function delivery.live_signing_secrets(text[]) from public;

do $roles$
declare
    can_create boolean;
    is_owner boolean;
    s text;
begin
    select rolsuper or rolcreaterole into can_create from pg_roles where rolname = current_user;
    if not can_create then
        raise warning 'Pulse roles not created: % may not create roles. Pulse runs as it is, '
            'with no analyst or tenant-reader role. To add them, run '
            'sql/migrations/0007_roles.sql with psql as a user with CREATEROLE '
            '(docs/roles.md).', current_user;
        return;
    end if;

    -- Group roles only (NOLOGIN): logins are members of them.
    if not exists (select 1 from pg_roles where rolname = 'pulse_owner') then
        create role pulse_owner nologin;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'pulse_loader') then
        create role pulse_loader nologin;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'pulse_delivery') then
        create role pulse_delivery nologin;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'pulse_analyst') then
        create role pulse_analyst nologin;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'pulse_tenant_reader') then
        create role pulse_tenant_reader nologin;
    end if;
    -- A role created elsewhere with more power than it should have is brought back down.
    alter role pulse_owner nosuperuser nocreatedb nocreaterole nobypassrls;
    alter role pulse_loader nosuperuser nocreatedb nocreaterole nobypassrls;
    alter role pulse_delivery nosuperuser nocreatedb nocreaterole nobypassrls;
    alter role pulse_analyst nosuperuser nocreatedb nocreaterole nobypassrls;
    alter role pulse_tenant_reader nosuperuser nocreatedb nocreaterole nobypassrls;
    for s in select format('revoke %I from %I', g.rolname, m.rolname)
             from pg_auth_members a
             join pg_roles g on g.oid = a.roleid
             join pg_roles m on m.oid = a.member
             where g.rolname in ('pg_execute_server_program', 'pg_read_server_files',
                                 'pg_write_server_files')
               and m.rolname in ('pulse_owner', 'pulse_loader', 'pulse_delivery',
                                 'pulse_analyst', 'pulse_tenant_reader') loop
        execute s;
    end loop;

    -- The user running the migrations (and dbt) acts as the owner.
    -- (pg_auth_members, not pg_has_role: a superuser "has" every role without being in it)
    if not exists (select 1 from pg_auth_members a join pg_roles g on g.oid = a.roleid
                   join pg_roles m on m.oid = a.member
                   where g.rolname = 'pulse_owner' and m.rolname = current_user) then
        execute format('grant pulse_owner to %I', current_user);
    end if;

    foreach s in array array['raw', 'staging', 'intermediate', 'marts', 'snapshots',
                             'reference', 'analytics', 'quality', 'ml', 'delivery'] loop
        execute format('alter schema %I owner to pulse_owner', s);
        execute format('revoke all on schema %I from public', s);
        execute format('grant usage, create on schema %I to pulse_owner', s);
        execute format('grant all on all tables in schema %I to pulse_owner', s);
        execute format('grant all on all sequences in schema %I to pulse_owner', s);
        -- what this user (the migrations, dbt) creates later belongs to the owner role too
        execute format('alter default privileges in schema %I grant all on tables '
                       'to pulse_owner', s);
        execute format('alter default privileges in schema %I grant all on sequences '
                       'to pulse_owner', s);
    end loop;

    -- Loader: raw only.
    grant usage on schema raw to pulse_loader;
    grant select, insert, update on all tables in schema raw to pulse_loader;
    grant usage on all sequences in schema raw to pulse_loader;

    -- Delivery: the delivery tables, and the secrets only through the function above.
    grant usage on schema delivery to pulse_delivery;
    grant select, insert, update on delivery.endpoints, delivery.messages, delivery.outbox,
        delivery.attempts to pulse_delivery;
    grant usage on all sequences in schema delivery to pulse_delivery;
    revoke all on delivery.endpoint_secrets from pulse_delivery, pulse_analyst,
        pulse_tenant_reader, pulse_loader;
    grant execute on function delivery.live_signing_secrets(text[]) to pulse_delivery;
    alter function delivery.live_signing_secrets(text[]) owner to pulse_owner;

    -- Analyst: the marts (grants on each relation come from dbt) and the quality results.
    grant usage on schema marts, quality to pulse_analyst;
    grant select on all tables in schema quality to pulse_analyst;
    -- quality.profile_* tables are recreated by the gate: they inherit the grant.
    alter default privileges in schema quality grant select on tables to pulse_analyst;

    -- Tenant reader: marts only; which relations, and which rows, dbt decides per model
    -- (macros/tenant_row_security.sql).
    grant usage on schema marts to pulse_tenant_reader;

    -- No temporary tables for the readers: a read-only role writes nothing, not even there.
    select d.datdba = (select oid from pg_roles where rolname = current_user)
           or (select rolsuper from pg_roles where rolname = current_user)
      into is_owner from pg_database d where d.datname = current_database();
    if is_owner then
        execute format('revoke temporary on database %I from public', current_database());
        execute format('grant temporary on database %I to pulse_owner, pulse_loader, '
                       'pulse_delivery', current_database());
        execute format('grant connect on database %I to pulse_owner, pulse_loader, '
                       'pulse_delivery, pulse_analyst, pulse_tenant_reader',
                       current_database());
    end if;
end
$roles$;
