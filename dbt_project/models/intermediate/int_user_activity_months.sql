{#- One row per user and calendar month in which the user was active on at least one
    day: the building block of monthly retention (macros/retention.sql). -#}
{{ user_activity_periods('month') }}
