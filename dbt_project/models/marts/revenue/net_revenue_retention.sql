{#- Net revenue retention by cohort: the cohort's MRR k months after its first paying
    month, relative to that first month. See the doc block `net_revenue_retention`. -#}

with

tenant_months as (

    select * from {{ ref('mrr_monthly') }}

),

cohorts as (

    select
        tenant_id,
        min(month) as cohort_month
    from tenant_months
    where mrr > 0
    group by tenant_id

),

cohort_months as (

    select
        cohorts.cohort_month,
        tenant_months.month,
        (
            (extract(year from tenant_months.month) - extract(year from cohorts.cohort_month)) * 12
            + extract(month from tenant_months.month) - extract(month from cohorts.cohort_month)
        )::int as months_since_start,
        tenant_months.tenant_id,
        tenant_months.mrr
    from tenant_months
    inner join cohorts
        on tenant_months.tenant_id = cohorts.tenant_id
        and tenant_months.month >= cohorts.cohort_month

),

aggregated as (

    select
        cohort_month,
        months_since_start,
        month,
        count(*)::int as cohort_tenants,
        count(*) filter (where mrr > 0)::int as paying_tenants,
        sum(mrr) as mrr
    from cohort_months
    group by cohort_month, months_since_start, month

),

with_start as (

    select
        *,
        first_value(mrr) over (
            partition by cohort_month order by months_since_start
        ) as starting_mrr
    from aggregated

)

select
    cohort_month,
    months_since_start,
    month,
    cohort_tenants,
    paying_tenants,
    starting_mrr,
    mrr,
    round(mrr / nullif(starting_mrr, 0), 4) as nrr
from with_start
