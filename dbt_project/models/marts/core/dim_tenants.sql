{#-
  Tenants with history (type 2): one row per tenant version from int_tenant_history,
  with the tenant's descriptive attributes (name, domain, industry, size, created and
  churned days) as the latest export states them. Join a fact on tenant_id and
  is_current for today's view, or on tenant_id and valid_from <= day < valid_to for the
  version in effect on a day.
-#}

with

history as (

    select * from {{ ref('int_tenant_history') }}

),

accounts as (

    select * from {{ ref('stg_pulse__accounts') }}

),

latest_export as (

    select distinct on (tenant_id)
        tenant_id,
        tenant_name,
        domain,
        industry,
        company_size,
        created_on,
        churned_on
    from accounts
    order by tenant_id, export_date desc

)

select
    md5(history.tenant_id || '|' || history.valid_from::text) as tenant_version_key,
    history.tenant_id,
    latest_export.tenant_name,
    latest_export.domain,
    latest_export.industry,
    latest_export.company_size,
    history.plan,
    history.licensed_seats,
    history.monthly_event_limit,
    history.mrr,
    history.status,
    history.valid_from,
    history.valid_to,
    history.valid_to is null as is_current,
    latest_export.created_on,
    latest_export.churned_on
from history
inner join latest_export
    on history.tenant_id = latest_export.tenant_id
