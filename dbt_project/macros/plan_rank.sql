{#-
  A plan's rank, for the ML features that read a plan as a number: the tiers of
  docs/plans.md in price order, 1 the cheapest; null for a plan not listed there. One
  mapping for the user and the tenant feature snapshots.
-#}
{% macro plan_rank(column) -%}
    case {{ column }} when 'starter' then 1 when 'professional' then 2 when 'enterprise' then 3 end
{%- endmacro %}
