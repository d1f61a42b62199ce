{#- Health scores lie between 0 and 100, each component between 0 and its weight, and the
    band agrees with the score. Returns the rows that break it. -#}
{%- set s = health_settings() -%}
{%- set uw = s.user_weights -%}
{%- set tw = s.tenant_weights -%}

with

user_scores as (

    select * from {{ ref('user_health_scores') }}

),

tenant_scores as (

    select * from {{ ref('tenant_health_scores') }}

),

problems as (

    select 'user' as scored, tenant_id, user_id, health_score, health_band
    from user_scores
    where health_score not between 0 and 100
        or recency_points not between 0 and {{ uw.recency }}
        or trend_points not between 0 and {{ uw.trend }}
        or breadth_points not between 0 and {{ uw.breadth }}
        or health_band <> {{ health_band('health_score') }}

    union all

    select 'tenant', tenant_id, null, health_score, health_band
    from tenant_scores
    where health_score not between 0 and 100
        or recency_points not between 0 and {{ tw.recency }}
        or trend_points not between 0 and {{ tw.trend }}
        or breadth_points not between 0 and {{ tw.breadth }}
        or seat_points not between 0 and {{ tw.seats }}
        or healthy_user_points not between 0 and {{ tw.healthy_users }}
        or seat_utilization not between 0 and 1
        or health_band <> {{ health_band('health_score') }}

)

select * from problems
