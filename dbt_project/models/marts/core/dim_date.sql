{#- One row per day from the first event day to the last day loaded (events or accounts
    export), never a hard-coded end: the calendar grows with the data. -#}

with

bounds as (

    select
        least(
            (select min(event_date) from {{ ref('fct_events') }}),
            (select min(export_date) from {{ ref('stg_pulse__accounts') }})
        ) as first_day,
        greatest(
            (select max(event_date) from {{ ref('fct_events') }}),
            (select max(export_date) from {{ ref('stg_pulse__accounts') }})
        ) as last_day

),

days as (

    select day::date as date_day
    from bounds
    cross join lateral generate_series(bounds.first_day, bounds.last_day, interval '1 day') as day

)

select
    date_day,
    extract(isoyear from date_day)::int as iso_year,
    extract(week from date_day)::int as iso_week,
    date_trunc('week', date_day)::date as iso_week_start,
    date_trunc('month', date_day)::date as month_start,
    (date_trunc('month', date_day) + interval '1 month - 1 day')::date as month_end,
    date_trunc('quarter', date_day)::date as quarter_start,
    extract(year from date_day)::int as year,
    extract(month from date_day)::int as month_of_year,
    trim(to_char(date_day, 'Month')) as month_name,
    extract(isodow from date_day)::int as iso_day_of_week,
    trim(to_char(date_day, 'Day')) as day_name,
    extract(isodow from date_day) in (6, 7) as is_weekend,
    date_day = (date_trunc('month', date_day) + interval '1 month - 1 day')::date as is_month_end,
    date_day = (select last_day from bounds) as is_last_loaded_day
from days
