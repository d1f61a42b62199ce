-- Webhook delivery (issue 6): endpoints, their signing secrets, the outbox and every attempt.
--
-- A message is one event for one tenant (stable id, chosen by dbt's
-- marts.webhook_announcements). The outbox holds one row per message and endpoint: its
-- delivery status (docs/delivery.md, delivery tracking), the batch that carries it (the
-- `webhook-id` of the request, kept across retries), attempts, the next attempt time and
-- the lease of the worker sending it. Secrets live in their own table, which no log, mart
-- or listing reads.

create schema if not exists delivery;

create table delivery.endpoints (
    endpoint_id          text primary key,
    tenant_id            text not null,
    url                  text not null,
    -- event types the endpoint subscribes to; '*' subscribes to every type
    event_types          text[] not null default '{*}',
    -- a message is sent when its payload contains this JSON (jsonb @>); {} matches all
    filter               jsonb not null default '{}'::jsonb,
    enabled              boolean not null default true,
    -- gone (HTTP 410), failing (failing days in a row), refused_url, manual
    disabled_reason      text,
    disabled_detail      text,
    disabled_at          timestamptz,
    rate_limit_per_second double precision not null default 10 check (rate_limit_per_second > 0),
    max_batch_size       integer check (max_batch_size between 1 and 1000),
    -- start of the current run of failures (null after a success): disables the endpoint
    -- once it is older than the configured number of days
    failing_since        timestamptz,
    last_success_at      timestamptz,
    created_at           timestamptz not null default now(),
    check (enabled = (disabled_reason is null)),
    check (disabled_reason in ('gone', 'failing', 'refused_url', 'manual'))
);

create index endpoints_tenant on delivery.endpoints (tenant_id) where enabled;

create table delivery.endpoint_secrets (
    endpoint_id text not null references delivery.endpoints on delete cascade,
    secret      text not null check (secret like 'whsec\_%'),
    created_at  timestamptz not null default now(),
    -- during a key rotation the old secret signs too, until it expires
    expires_at  timestamptz,
    primary key (endpoint_id, secret)
);

create table delivery.messages (
    message_id   text primary key,
    tenant_id    text not null,
    event_type   text not null,
    user_id      text,
    announced_on date not null,
    payload      jsonb not null,
    created_at   timestamptz not null default now()
);

create index messages_day on delivery.messages (announced_on);

create table delivery.outbox (
    message_id       text not null references delivery.messages,
    endpoint_id      text not null references delivery.endpoints on delete cascade,
    -- creation order: batches are formed, and sent, in this order per endpoint
    seq              bigserial not null unique,
    status           text not null default 'PENDING'
        check (status in ('PENDING', 'SENDING', 'SUCCESS', 'FAILED', 'RETRYING', 'ABANDONED')),
    batch_id         text,
    attempt          integer not null default 0,
    next_attempt_at  timestamptz,
    lease_expires_at timestamptz,
    response_code    integer,
    duration_ms      integer,
    last_error       text,
    updated_at       timestamptz not null default now(),
    primary key (message_id, endpoint_id),
    check ((status = 'SENDING') = (lease_expires_at is not null))
);

create index outbox_open on delivery.outbox (endpoint_id, seq)
    where status in ('PENDING', 'SENDING', 'RETRYING');
create index outbox_batch on delivery.outbox (batch_id);

create table delivery.attempts (
    attempt_id     bigserial primary key,
    batch_id       text not null,
    message_id     text not null,
    endpoint_id    text not null,
    attempt_number integer not null,
    status         text not null check (status in ('SUCCESS', 'FAILED')),
    response_code  integer,
    duration_ms    integer,
    error          text,
    attempted_at   timestamptz not null default now()
);

create index attempts_message on delivery.attempts (message_id, endpoint_id);
