{#- One row per user and ISO week (Monday to Sunday) in which the user was active on at
    least one day: the building block of weekly retention (macros/retention.sql). -#}
{{ user_activity_periods('week') }}
