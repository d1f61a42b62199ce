-- Privacy (docs/privacy.md): erasure requests, the retention purge's log, and the keyed
-- hash staging uses for personal fields the contract marks "pii".

-- pgcrypto's hmac(); trusted since PostgreSQL 13, so the database owner may create it.
create extension if not exists pgcrypto;

create schema if not exists privacy;

-- One row per erasure request (GDPR art. 17). The subject is kept only as keyed hashes
-- (HMAC-SHA256 with PULSE_PII_KEY), never in clear; the loader reads these to suppress
-- the subject's lines from landing files loaded or reloaded later.
create table privacy.erasure_requests (
    request_id    bigint generated always as identity primary key,
    scope         text        not null check (scope in ('user', 'tenant')),
    tenant_hash   text        not null,
    user_hash     text,                    -- null for a whole tenant
    requested_at  timestamptz not null default now(),
    applied_at    timestamptz,             -- null while pending
    row_counts    jsonb       not null default '{}'::jsonb,   -- table -> rows removed
    check ((scope = 'user') = (user_hash is not null))
);
create unique index erasure_requests_subject
    on privacy.erasure_requests (tenant_hash, coalesce(user_hash, ''));

-- What each retention purge removed: one row per run and table.
create table privacy.purge_log (
    purged_at       timestamptz not null default now(),
    as_of           date        not null,   -- the day the retention periods count back from
    retention_class text        not null,   -- user_events, analytics, webhook_logs, ...
    table_name      text        not null,
    cutoff          timestamptz not null,   -- rows older than this were removed
    rows_removed    bigint      not null
);

-- Lines of erased subjects the loader did not load (landing files are immutable).
alter table raw.load_ledger add column rows_suppressed bigint not null default 0;

-- The keyed hash of an email (lower-cased) or other identifier. The key is the session
-- setting pulse.pii_key, given to dbt through libpq's PGOPTIONS (pulse.orchestration's
-- dbt_env), so it never appears in compiled SQL; without it this fails rather than
-- writing an unkeyed value.
create function privacy.pii_hash(value text) returns text
language sql stable strict
set search_path = pg_catalog, public
as $$
    select encode(hmac(lower(value), current_setting('pulse.pii_key'), 'sha256'), 'hex')
$$;

-- A JSON object with the keys in hash_keys replaced by their keyed hash (strings) or
-- removed (any other non-null value), and the keys in drop_keys removed. Objects holding
-- none of those keys are returned as they are, without being taken apart.
create function privacy.pii_scrub(doc jsonb, hash_keys text[], drop_keys text[])
returns jsonb
language sql stable
set search_path = pg_catalog, public
as $$
    select case
        when doc is null or jsonb_typeof(doc) <> 'object' then doc
        when not (doc ?| hash_keys or doc ?| drop_keys) then doc
        else coalesce((
            select jsonb_object_agg(
                e.key,
                case when e.key = any(hash_keys) and jsonb_typeof(e.value) = 'string'
                     then to_jsonb(privacy.pii_hash(e.value #>> '{}'))
                     else e.value end)
            from jsonb_each(doc) as e
            where not e.key = any(drop_keys)
              and not (e.key = any(hash_keys) and jsonb_typeof(e.value) not in ('string', 'null'))
        ), '{}'::jsonb)
    end
$$;
