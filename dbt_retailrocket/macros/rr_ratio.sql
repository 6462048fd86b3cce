{#- Shares (KPI rates): computed once here, checked once here. -#}

{% macro rr_ratio(numerator, denominator) -%}
    {#- Share as double precision; null when the denominator is 0 (never an integer division). -#}
    case
        when {{ denominator }} = 0 then null
        else cast({{ numerator }} as {{ rr_type_double() }}) / cast({{ denominator }} as {{ rr_type_double() }})
    end
{%- endmacro %}


{% macro rr_rate_differs(rate, numerator, denominator) -%}
    {#- True when a stored rate disagrees with numerator / denominator recomputed (null when the
        denominator is 0), beyond floating-point noise. -#}
    (
        case
            when {{ denominator }} = 0 then {{ rate }} is not null
            when {{ rate }} is null then true
            else abs({{ rate }} - cast({{ numerator }} as {{ rr_type_double() }}) / {{ denominator }}) > 1e-12
        end
    )
{%- endmacro %}
