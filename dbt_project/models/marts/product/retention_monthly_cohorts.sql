{#-
  Monthly signup-cohort retention, per tenant and across all tenants (see the
  retention_cohorts doc block). One row per cohort and period 0 .. last loaded month.
  The cohort size is counted from dim_users once per cohort, never from the users
  active in a period. The SQL is shared with the weekly mart: macros/retention.sql.
-#}
{{ retention_cohorts('month', 'int_user_activity_months') }}
