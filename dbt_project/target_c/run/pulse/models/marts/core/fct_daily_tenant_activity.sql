
      
  
    

  create  table "pulse_test_c"."marts"."fct_daily_tenant_activity__dbt_tmp"
  
  
    as
  
  (
    

with

user_days as (

    select * from "pulse_test_c"."marts"."fct_daily_user_activity"

),

accounts as (

    select * from "pulse_test_c"."staging"."stg_pulse__accounts"

),

last_day as (

    select max(activity_date) as last_day from user_days

),

tenant_window as (

    
    select tenant_id, min(activity_date) as window_start
    from user_days
    group by tenant_id
    

),

spine as (

    select
        tenant_window.tenant_id,
        tenant_window.window_start,
        day::date as activity_date
    from tenant_window
    cross join last_day
    cross join lateral generate_series(
        tenant_window.window_start - 29, last_day.last_day, interval '1 day'
    ) as day
    where tenant_window.window_start <= last_day.last_day

),

window_user_days as (

    select user_days.*
    from user_days
    inner join tenant_window
        on user_days.tenant_id = tenant_window.tenant_id
        and user_days.activity_date >= tenant_window.window_start - 29

),

active_days as (

    select
        tenant_id,
        user_id,
        activity_date,
        lead(activity_date) over (
            partition by tenant_id, user_id order by activity_date
        ) as next_active_date
    from window_user_days
    where is_active

),

steps as (

    select tenant_id, activity_date as step_date, 1 as mau_step, 1 as wau_step
    from active_days
    union all
    select tenant_id, least(activity_date + 30, coalesce(next_active_date, activity_date + 30)), -1, 0
    from active_days
    union all
    select tenant_id, least(activity_date + 7, coalesce(next_active_date, activity_date + 7)), 0, -1
    from active_days

),

daily_steps as (

    select tenant_id, step_date, sum(mau_step) as mau_step, sum(wau_step) as wau_step
    from steps
    group by tenant_id, step_date

),

daily_totals as (

    select
        tenant_id,
        activity_date,
        count(*) filter (where is_active)::int as dau,
        sum(event_count)::bigint as events,
        sum(active_event_count)::bigint as active_events
    from window_user_days
    group by tenant_id, activity_date

),

rolled as (

    select
        spine.tenant_id,
        spine.window_start,
        spine.activity_date,
        coalesce(daily_totals.dau, 0) as dau,
        sum(coalesce(daily_steps.wau_step, 0)) over running::int as wau,
        sum(coalesce(daily_steps.mau_step, 0)) over running::int as mau,
        coalesce(daily_totals.events, 0) as events,
        coalesce(daily_totals.active_events, 0) as active_events
    from spine
    left join daily_steps
        on spine.tenant_id = daily_steps.tenant_id
        and spine.activity_date = daily_steps.step_date
    left join daily_totals
        on spine.tenant_id = daily_totals.tenant_id
        and spine.activity_date = daily_totals.activity_date
    window running as (
        partition by spine.tenant_id order by spine.activity_date
        rows between unbounded preceding and current row
    )

)

select
    rolled.tenant_id,
    rolled.activity_date,
    rolled.dau,
    rolled.wau,
    rolled.mau,
    case when rolled.mau > 0 then round(rolled.dau::numeric / rolled.mau, 4) end as stickiness,
    rolled.events,
    rolled.active_events,
    accounts.licensed_seats,
    now() as _updated_at
from rolled
left join accounts
    on rolled.tenant_id = accounts.tenant_id
    and rolled.activity_date = accounts.export_date
where rolled.activity_date >= rolled.window_start
  );
  
  