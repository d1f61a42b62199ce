{#-
  Weekly signup-cohort retention (ISO weeks, Monday to Sunday), per tenant and across
  all tenants (see the retention_cohorts doc block). One row per cohort and period
  0 .. last loaded week. The SQL is shared with the monthly mart: macros/retention.sql.
-#}
{{ retention_cohorts('week', 'int_user_activity_weeks') }}
