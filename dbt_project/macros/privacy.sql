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
