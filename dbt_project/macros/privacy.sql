{#-
  Personal data in staging (docs/privacy.md). The rules come from the contract's "pii"
  attributes through the generated macro pii_fields(); the SQL functions are in
  sql/migrations/0008_privacy.sql.
-#}

{#- A map field of the payload with its personal keys hashed or removed.

    privacy.pii_scrub is called only for a map holding one of those keys (a few events in
    a thousand: invitations, profile updates): each call costs ~20 us (a SQL function with
    its own search_path is never inlined), which was most of what staging spent on an
    event; a `?|` test in the query costs under 1 us. Same result: the function returns
    any other map unchanged (docs/privacy.md). -#}
{% macro pii_scrubbed_map(field) -%}
    {%- set rules = pii_fields()['maps'].get(field) -%}
    {%- if rules is none -%}
        payload -> '{{ field }}'
    {%- else -%}
        case
            when payload -> '{{ field }}' ?| {{ pii_text_array(rules['hash'] + rules['drop']) }}
                then privacy.pii_scrub(
                    payload -> '{{ field }}',
                    {{ pii_text_array(rules['hash']) }},
                    {{ pii_text_array(rules['drop']) }}
                )
            else payload -> '{{ field }}'
        end
    {%- endif -%}
{%- endmacro %}

{#- array['a', 'b']::text[] -#}
{% macro pii_text_array(keys) -%}
    array[{% for k in keys %}'{{ k }}'{{ ', ' if not loop.last }}{% endfor %}]::text[]
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
    its day, as a full refresh would, writing only the rows that differ.
    Only the rows of users whose periods changed can differ: ml.consent_periods_applied
    (sql/migrations/0016) holds the periods the stored rows agree with. The users whose
    periods differ from those are listed first (a query when the hook is rendered, after
    the build's insert, in its transaction), so the update names them as literals and
    reads their rows through the unique index: as a join, the planner cannot know the
    list is short and hashes every stored row. While that table is empty (its first
    night) every row is compared. Then the current periods are stored. Nothing changed:
    no statement at all. docs/incremental.md -#}
{% macro ml_consent_post_hook() -%}
    {%- set columns = 'tenant_id, user_id, valid_from, valid_to, consent_ml_predictions' -%}
    {%- set applied = 'ml.consent_periods_applied' -%}
    {%- set periods -%}
        select {{ columns }} from {{ ref('ml_user_consent_periods') }}
    {%- endset -%}
    {%- set first_night, changed = false, [] -%}
    {%- if execute -%}
        {%- set first_night = run_query(
            "select not exists (select 1 from " ~ applied ~ ")").columns[0].values()[0] -%}
        {%- if not first_night -%}
            {%- set changed_sql -%}
                select distinct tenant_id, user_id from (
                    ({{ periods }} except select {{ columns }} from {{ applied }})
                    union all
                    (select {{ columns }} from {{ applied }} except {{ periods }})
                ) as changed
                order by tenant_id, user_id
            {%- endset -%}
            {%- set changed = run_query(changed_sql).rows -%}
        {%- endif -%}
    {%- endif -%}
    {%- if first_night or changed | length > 0 -%}
    update {{ this }} as snap
    set consent_ml_predictions = fresh.consent_ml_predictions
    from (
        select
            built.tenant_id,
            built.user_id,
            built.snapshot_date,
            coalesce(period.consent_ml_predictions, false) as consent_ml_predictions
        from {{ this }} as built
        left join ({{ periods }}) as period
            on built.tenant_id = period.tenant_id
            and built.user_id = period.user_id
            and built.snapshot_date >= period.valid_from
            and (period.valid_to is null or built.snapshot_date < period.valid_to)
        {%- if not first_night %}
        where (built.tenant_id, built.user_id) in (
            {%- for row in changed %}
            ('{{ row[0] | replace("'", "''") }}', '{{ row[1] | replace("'", "''") }}'){{ ',' if not loop.last }}
            {%- endfor %}
        )
        {%- endif %}
    ) as fresh
    where snap.tenant_id = fresh.tenant_id
        and snap.user_id = fresh.user_id
        and snap.snapshot_date = fresh.snapshot_date
        and snap.consent_ml_predictions is distinct from fresh.consent_ml_predictions;

    delete from {{ applied }};
    insert into {{ applied }} ({{ columns }}) {{ periods }}
    {%- endif -%}
{%- endmacro %}
