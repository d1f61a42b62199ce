{#-
  MRR per tenant and month, with the month's movement against the previous month.
  See the doc blocks `mrr` and `mrr_movements`.
-#}

with

accounts as (

    select * from {{ ref('stg_pulse__accounts') }}

),

month_end_rows as (

    -- the tenant's last export day in each month
    select distinct on (tenant_id, date_trunc('month', export_date))
        tenant_id,
        date_trunc('month', export_date)::date as month,
        plan,
        (case when status = 'churned' then 0 else coalesce(mrr, 0) end)::numeric(12, 2) as mrr
    from accounts
    order by tenant_id, date_trunc('month', export_date), export_date desc

),

tenant_months as (

    -- every month from the tenant's first export month to the export's last month
    select
        firsts.tenant_id,
        month::date as month
    from (
        select tenant_id, min(month) as first_month
        from month_end_rows
        group by tenant_id
    ) as firsts
    cross join (select max(month) as last_month from month_end_rows) as bounds
    cross join lateral generate_series(
        firsts.first_month, bounds.last_month, interval '1 month'
    ) as month

),

monthly as (

    select
        tenant_months.tenant_id,
        tenant_months.month,
        month_end_rows.plan,
        -- a month the tenant is missing from the export is a month nobody billed
        coalesce(month_end_rows.mrr, 0)::numeric(12, 2) as mrr
    from tenant_months
    left join month_end_rows
        on tenant_months.tenant_id = month_end_rows.tenant_id
        and tenant_months.month = month_end_rows.month

),

compared as (

    select
        tenant_id,
        month,
        plan,
        mrr,
        coalesce(lag(mrr) over by_month, 0)::numeric(12, 2) as previous_mrr,
        coalesce(
            bool_or(mrr > 0) over (
                partition by tenant_id order by month
                rows between unbounded preceding and 1 preceding
            ),
            false
        ) as has_paid_before
    from monthly
    window by_month as (partition by tenant_id order by month)

),

classified as (

    select
        *,
        mrr - previous_mrr as mrr_change,
        case
            when previous_mrr = 0 and mrr > 0 and not has_paid_before then 'new'
            when previous_mrr = 0 and mrr > 0 then 'reactivated'
            when previous_mrr > 0 and mrr = 0 then 'churned'
            when previous_mrr > 0 and mrr > previous_mrr then 'expansion'
            when previous_mrr > 0 and mrr < previous_mrr then 'contraction'
            else 'unchanged'
        end as movement
    from compared

)

select
    tenant_id,
    month,
    plan,
    mrr,
    previous_mrr,
    mrr_change,
    movement,
    (case when movement = 'new' then mrr_change else 0 end)::numeric(12, 2) as new_mrr,
    (case when movement = 'expansion' then mrr_change else 0 end)::numeric(12, 2) as expansion_mrr,
    (case when movement = 'contraction' then mrr_change else 0 end)::numeric(12, 2) as contraction_mrr,
    (case when movement = 'churned' then mrr_change else 0 end)::numeric(12, 2) as churned_mrr,
    (case when movement = 'reactivated' then mrr_change else 0 end)::numeric(12, 2) as reactivated_mrr
from classified
