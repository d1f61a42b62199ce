{#-
  The rule-based health score: every weight, threshold and formula of
  user_health_scores and tenant_health_scores is here (definition: doc block
  `health_score`). The models only compute the inputs.

  Each component earns between 0 and its weight in points; the score is the rounded sum.
  A component that cost at least `min_points_lost` points is named in `lowered_by`.
-#}

{% macro health_settings() %}
    {{ return({
        'user_weights': {'recency': 40, 'trend': 30, 'breadth': 30},
        'tenant_weights': {'recency': 15, 'trend': 20, 'breadth': 15, 'seats': 25, 'healthy_users': 25},
        'recency_full_points_days': 2,
        'recency_zero_points_days': 21,
        'breadth_window_days': 30,
        'trend_window_days': var('health_trend_window_days'),
        'at_risk_below': var('health_at_risk_below'),
        'healthy_from': var('health_healthy_from'),
        'min_points_lost': 1,
    }) }}
{% endmacro %}


{#- Full points up to `recency_full_points_days` days since the last active day, none from
    `recency_zero_points_days` on, linear in between; none when never active. -#}
{% macro health_recency_points(days_since_active, weight) -%}
    {%- set s = health_settings() -%}
    case
        when {{ days_since_active }} is null then 0
        else {{ weight }} * greatest(0, least(1,
            ({{ s.recency_zero_points_days }} - ({{ days_since_active }}))::numeric
            / {{ s.recency_zero_points_days - s.recency_full_points_days }}
        ))
    end
{%- endmacro %}

{% macro health_recency_reason(days_since_active) -%}
    case
        when {{ days_since_active }} is null then 'never active'
        else 'inactive for ' || {{ days_since_active }}
            || case when {{ days_since_active }} = 1 then ' day' else ' days' end
    end
{%- endmacro %}


{#- Activity in the last trend window vs the window before: full points when it held up
    or grew (or started in the last window), proportional to recent / prior when it fell,
    none when there was no activity in either. -#}
{% macro health_trend_points(recent, prior, weight) -%}
    case
        when coalesce({{ recent }}, 0) = 0 and coalesce({{ prior }}, 0) = 0 then 0
        when coalesce({{ prior }}, 0) = 0 then {{ weight }}
        else {{ weight }} * least(1, {{ recent }}::numeric / {{ prior }})
    end
{%- endmacro %}

{% macro health_trend_reason(recent, prior) -%}
    {%- set s = health_settings() -%}
    case
        when coalesce({{ recent }}, 0) = 0 and coalesce({{ prior }}, 0) = 0
            then 'no activity in {{ 2 * s.trend_window_days }} days'
        else 'activity down '
            || round(100 * (1 - {{ recent }}::numeric / nullif({{ prior }}, 0)))::int || '%'
    end
{%- endmacro %}


{#- Points in proportion to value / target, full at or above the target. Used for breadth
    (features used vs the plan's typical use), seat utilization and the share of
    healthy users (target 1). -#}
{% macro health_ratio_points(value, target, weight) -%}
    {#- greatest() and least() skip nulls in PostgreSQL: test for null first -#}
    case
        when ({{ value }}) is null or coalesce({{ target }}, 0) = 0 then 0
        else {{ weight }} * least(1, greatest(0, ({{ value }})::numeric / {{ target }}))
    end
{%- endmacro %}

{% macro health_breadth_reason(features_used, peer_features) -%}
    case
        when coalesce({{ features_used }}, 0) = 0 then 'uses no features'
        else 'uses ' || {{ features_used }}
            || case when {{ features_used }} = 1 then ' feature' else ' features' end
    end || ' (peers: ' || {{ peer_features }} || ')'
{%- endmacro %}

{% macro health_seats_reason(seat_utilization) -%}
    'seats ' || round(100 * {{ seat_utilization }})::int || '% used'
{%- endmacro %}

{% macro health_healthy_users_reason(share_healthy) -%}
    case
        when {{ share_healthy }} is null then 'no users active in {{ health_settings().breadth_window_days }} days'
        else 'only ' || round(100 * {{ share_healthy }})::int || '% of users healthy'
    end
{%- endmacro %}


{#- Typical breadth among peers: the median of the given distinct-feature counts,
    rounded, at least 1. An aggregate: use it with a group by. -#}
{% macro health_peer_breadth(features_used) -%}
    greatest(1, round(percentile_cont(0.5) within group (order by {{ features_used }})))::int
{%- endmacro %}


{% macro health_band(score) -%}
    {%- set s = health_settings() -%}
    case
        when {{ score }} < {{ s.at_risk_below }} then 'at_risk'
        when {{ score }} >= {{ s.healthy_from }} then 'healthy'
        else 'neutral'
    end
{%- endmacro %}


{#- The components that cost points, most costly first (ties in the order given), as
    comma-separated text; null when none cost `min_points_lost` points.
    factors: a list of [reason expression, points expression, weight]. -#}
{% macro health_lowered_by(factors) -%}
    (
        select string_agg(factor.reason, ', ' order by factor.points_lost desc, factor.priority)
        from (
            values
            {%- for reason, points, weight in factors %}
                ({{ reason }}, {{ weight }} - ({{ points }}), {{ loop.index }}){{ "," if not loop.last }}
            {%- endfor %}
        ) as factor (reason, points_lost, priority)
        where factor.points_lost >= {{ health_settings().min_points_lost }}
    )
{%- endmacro %}

{#- -1 (stopped) .. 0 (steady) .. 1 (started): a recent window against the one before;
    null without activity in either. -#}
{% macro activity_trend(recent, prior) -%}
    round(({{ recent }} - {{ prior }})::numeric / nullif({{ recent }} + {{ prior }}, 0), 4)
{%- endmacro %}

{#- The breadth input of both health scores: per `grain` (e.g. ['tenant_id', 'user_id']),
    the distinct features used in the `breadth_window_days` days ending at as_of_date.
    Each feature once per grain, then a count: hashed, where count(distinct) sorted every
    feature day of the window (docs/incremental.md, "Marts rebuilt whole"). -#}
{% macro health_features_used(feature_days, as_of, grain) -%}
    {%- set s = health_settings() -%}
    select
        {{ grain | join(',\n        ') }},
        count(*)::int as features_used_last_30
    from (
        select distinct
            {%- for column in grain %}
            {{ feature_days }}.{{ column }},
            {%- endfor %}
            {{ feature_days }}.feature_name
        from {{ feature_days }}
        cross join {{ as_of }}
        where {{ feature_days }}.activity_date > {{ as_of }}.as_of_date - {{ s.breadth_window_days }}
            and {{ feature_days }}.activity_date <= {{ as_of }}.as_of_date
    ) as used
    group by {{ grain | join(', ') }}
{%- endmacro %}
