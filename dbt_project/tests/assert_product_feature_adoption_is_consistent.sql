{#- Feature adoption: adopters are active users and cumulative adopters; cumulative
    adopters never shrink from one month to the next. Returns the offending rows. -#}

with

adoption as (

    select
        *,
        lag(cumulative_adopters) over (
            partition by tenant_id, feature_name order by activity_month
        ) as previous_cumulative_adopters
    from {{ ref('feature_adoption_monthly') }}

)

select *
from adoption
where adopters > active_users
    or adopters > cumulative_adopters
    or cumulative_adopters < previous_cumulative_adopters
    or (cumulative_adopters > 0) is distinct from (median_days_to_first_use is not null)
