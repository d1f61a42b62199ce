{#- Models land in the schema their folder names (staging, marts, ...), not in
    <target schema>_<name>: analysts in Metabase browse `marts`, not `analytics_marts`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
