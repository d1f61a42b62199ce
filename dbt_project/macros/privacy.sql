{#-
  Personal data in staging (docs/privacy.md). The rules come from the contract's "pii"
  attributes through the generated macro pii_fields(); the SQL functions are in
  sql/migrations/0008_privacy.sql.
-#}

{#- A map field of the payload with its personal keys hashed or removed. -#}
{% macro pii_scrubbed_map(field) -%}
    {%- set rules = pii_fields()['maps'].get(field) -%}
    {%- if rules is none -%}
        payload -> '{{ field }}'
    {%- else -%}
        privacy.pii_scrub(
            payload -> '{{ field }}',
            array[{% for k in rules['hash'] %}'{{ k }}'{{ ', ' if not loop.last }}{% endfor %}]::text[],
            array[{% for k in rules['drop'] %}'{{ k }}'{{ ', ' if not loop.last }}{% endfor %}]::text[]
        )
    {%- endif -%}
{%- endmacro %}

{#- A scalar field of a payload record; a field the contract marks for dropping stops at
    raw, so asking for it fails the build. -#}
{% macro pii_safe_field(record, name) -%}
    {%- if (record ~ '.' ~ name) in pii_fields()['dropped'] -%}
        {{ exceptions.raise_compiler_error(record ~ '.' ~ name ~ ' is personal data (the contract marks it pii: drop): it stays in raw') }}
    {%- endif -%}
    payload -> '{{ record }}' ->> '{{ name }}'
{%- endmacro %}

{#- True when `at` falls in a period where the user had withdrawn analytics_tracking
    consent: such events and everything built from them stay out of user-level marts
    (docs/privacy.md). `alias` names a relation with tenant_id and user_id. -#}
{% macro analytics_consent_withdrawn(alias, at) -%}
    exists (
        select 1
        -- a subquery, so the alias stays valid when `dbt run --empty` wraps the ref
        from (select * from {{ ref('int_user_consent_changes') }}) as withdrawn
        where withdrawn.purpose = 'analytics_tracking'
            and not withdrawn.granted
            and withdrawn.tenant_id = {{ alias }}.tenant_id
            and withdrawn.user_id = {{ alias }}.user_id
            and {{ at }} >= withdrawn.chosen_at
            and (withdrawn.valid_until is null or {{ at }} < withdrawn.valid_until)
    )
{%- endmacro %}

{#- A post-hook for user-level incremental models: removes rows already built that a
    withdrawal (possibly one that arrived late) now covers. `at` is the row's time; a
    date column counts from the start of its UTC day. Cheap: withdrawals are few. -#}
{% macro analytics_consent_post_hook(at, is_date=false) -%}
    {%- set at_expr = "(built." ~ at ~ "::timestamp at time zone 'UTC')" if is_date else "built." ~ at -%}
    delete from {{ this }} as built
    where {{ analytics_consent_withdrawn('built', at_expr) }}
{%- endmacro %}

{#- Which of several consent choices made at the same instant holds: the last in this
    order. The users export is authoritative (docs/privacy.md "Consent"), so it goes last;
    an update event after the signup choice. -#}
{% macro consent_precedence(chosen_by) -%}
    case {{ chosen_by }} when 'signup' then 0 when 'consent_updated' then 1 else 2 end
{%- endmacro %}

{#- A post-hook for ml_user_feature_snapshots, which is incremental by snapshot day: a
    consent choice changes no activity, so the days it covers are not recomputed, yet it
    must reach the snapshots already built (a withdrawal from the users export, or one
    that arrived late). Sets each row's consent to what ml_user_consent_periods says for
    its day, as a full refresh would; writes only the rows that differ. -#}
{% macro ml_consent_post_hook() -%}
    update {{ this }} as snap
    set consent_ml_predictions = fresh.consent_ml_predictions
    from (
        select
            built.tenant_id,
            built.user_id,
            built.snapshot_date,
            coalesce(period.consent_ml_predictions, false) as consent_ml_predictions
        from {{ this }} as built
        left join (select * from {{ ref('ml_user_consent_periods') }}) as period
            on built.tenant_id = period.tenant_id
            and built.user_id = period.user_id
            and built.snapshot_date >= period.valid_from
            and (period.valid_to is null or built.snapshot_date < period.valid_to)
    ) as fresh
    where snap.tenant_id = fresh.tenant_id
        and snap.user_id = fresh.user_id
        and snap.snapshot_date = fresh.snapshot_date
        and snap.consent_ml_predictions is distinct from fresh.consent_ml_predictions
{%- endmacro %}
