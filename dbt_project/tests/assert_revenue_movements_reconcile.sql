{#- The MRR bridge holds every month: starting + movements = ending, and each month
    starts where the previous one ended. Returns the months that break it. -#}

with

bridge as (

    select * from {{ ref('mrr_movements_monthly') }}

),

checked as (

    select
        month,
        starting_mrr,
        ending_mrr,
        starting_mrr + new_mrr + expansion_mrr + contraction_mrr + churned_mrr
            + reactivated_mrr as starting_plus_movements,
        lag(ending_mrr) over (order by month) as previous_ending_mrr
    from bridge

)

select *
from checked
where starting_plus_movements <> ending_mrr
    or starting_mrr <> coalesce(previous_ending_mrr, 0)
