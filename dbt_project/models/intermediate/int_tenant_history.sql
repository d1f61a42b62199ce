{#-
  The billing system's accounts export as tenant versions (gaps and islands): one row
  per tenant and stretch of consecutive export rows with the same plan, status,
  licensed_seats and mrr. A day missing from the export does not split a stretch; a
  value that changes and changes back (A -> B -> A) gives three versions.

  valid_from is the first export day of the stretch; valid_to (exclusive) is the first
  export day of the next version, null for the tenant's latest version. Rebuilt from the
  whole export on every run, so a backfill or full refresh gives the same rows.
-#}

with

accounts as (

    select * from {{ ref('stg_pulse__accounts') }}

),

flagged as (

    select
        tenant_id,
        export_date,
        plan,
        status,
        licensed_seats,
        mrr,
        monthly_event_limit,
        case
            when lag(export_date) over by_day is null then 1
            when (plan, status, licensed_seats, mrr)
                is distinct from (
                    lag(plan) over by_day,
                    lag(status) over by_day,
                    lag(licensed_seats) over by_day,
                    lag(mrr) over by_day
                )
                then 1
            else 0
        end as starts_version
    from accounts
    window by_day as (partition by tenant_id order by export_date)

),

numbered as (

    select
        *,
        sum(starts_version) over (
            partition by tenant_id order by export_date
            rows between unbounded preceding and current row
        ) as version_number
    from flagged

),

versions as (

    select
        tenant_id,
        version_number,
        min(export_date) as valid_from,
        max(export_date) as last_export_date,
        count(*)::int as export_days,
        -- constant within a version by construction
        min(plan) as plan,
        min(status) as status,
        min(licensed_seats) as licensed_seats,
        min(mrr) as mrr,
        -- not part of the version key: the value on the version's last export day
        (array_agg(monthly_event_limit order by export_date desc))[1] as monthly_event_limit
    from numbered
    group by tenant_id, version_number

)

select
    tenant_id,
    version_number::int as version_number,
    plan,
    status,
    licensed_seats,
    mrr,
    monthly_event_limit,
    valid_from,
    lead(valid_from) over (partition by tenant_id order by valid_from) as valid_to,
    last_export_date,
    export_days
from versions
