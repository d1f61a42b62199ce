{#- The MRR bridge: one row per month across tenants, starting MRR plus the month's
    movements equals ending MRR (checked by the quality gate, expectations/marts.yml). -#}

with

tenant_months as (

    select * from {{ ref('mrr_monthly') }}

)

select
    month,
    sum(previous_mrr) as starting_mrr,
    sum(new_mrr) as new_mrr,
    sum(expansion_mrr) as expansion_mrr,
    sum(contraction_mrr) as contraction_mrr,
    sum(churned_mrr) as churned_mrr,
    sum(reactivated_mrr) as reactivated_mrr,
    sum(mrr) as ending_mrr,
    sum(mrr_change) as net_new_mrr,
    count(*) filter (where previous_mrr > 0)::int as starting_paying_tenants,
    count(*) filter (where movement = 'new')::int as new_tenants,
    count(*) filter (where movement = 'churned')::int as churned_tenants,
    count(*) filter (where movement = 'reactivated')::int as reactivated_tenants,
    count(*) filter (where mrr > 0)::int as ending_paying_tenants
from tenant_months
group by month
