{#- Every rate in the product marts is a share: between 0 and 1 (null only where the
    denominator can be 0). Returns the offending rows. -#}

with

rates as (

    select 'retention_monthly_cohorts' as model, retention_rate as rate
    from {{ ref('retention_monthly_cohorts') }}
    union all
    select 'retention_weekly_cohorts', retention_rate
    from {{ ref('retention_weekly_cohorts') }}
    union all
    select 'nday_retention', retention_rate
    from {{ ref('nday_retention') }}
    union all
    select 'feature_adoption_monthly', adoption_rate
    from {{ ref('feature_adoption_monthly') }}
    union all
    select 'adoption_funnel.activation_rate', activation_rate
    from {{ ref('adoption_funnel') }}
    union all
    select 'adoption_funnel.core_feature_rate', core_feature_rate
    from {{ ref('adoption_funnel') }}
    union all
    select 'adoption_funnel.habitual_core_rate', habitual_core_rate
    from {{ ref('adoption_funnel') }}
    union all
    select 'adoption_funnel.overall_conversion_rate', overall_conversion_rate
    from {{ ref('adoption_funnel') }}

)

select *
from rates
where rate < 0 or rate > 1
