-- The application's daily users export (user settings with the consent flags), loaded like
-- the accounts export: one row per valid line, bad lines quarantined with a reason
-- (docs/event-contract.md "Users export", docs/privacy.md "Consent").

alter table raw.load_ledger drop constraint load_ledger_kind_check;
alter table raw.load_ledger add constraint load_ledger_kind_check
    check (kind in ('events', 'accounts', 'users'));

create table raw.users (
    export_date  date        not null,
    tenant_id    text        not null,
    user_id      text        not null,
    batch_id     bigint      not null,   -- raw.load_ledger.batch_id
    line_number  integer     not null,   -- 1-based line in the landing file
    loaded_at    timestamptz not null default now(),
    payload      jsonb       not null    -- the line exactly as it arrived
);
create index users_tenant_user on raw.users (tenant_id, user_id);

-- the loader writes it, as it writes the accounts export (docs/roles.md)
do $grants$
begin
    if exists (select 1 from pg_roles where rolname = 'pulse_loader') then
        grant select, insert, update on raw.users to pulse_loader;
    end if;
end
$grants$;
