{#- Project vars, checked before they reach SQL.

    Every model and macro reads a var as sniper_var('name'), never var('name'): the value
    (from --vars, or the default) is checked against the var's JSON schema, generated from
    python/dbt_vars.py (ProjectVars) into macros/generated/project_vars.sql, and a value
    that does not fit is a compile error naming the var. A checked value is a number, a
    boolean, one of a list of words, a date, or a list or mapping of such: none can carry
    a quote into the SQL it is rendered into. validate_project_vars() (on-run-start)
    checks every var of the run, used by the selected models or not, and refuses a var it
    does not know. -#}

{% macro sniper_var(name) -%}
    {%- set schema = project_vars_schema() -%}
    {%- if name not in schema.properties -%}
        {{ exceptions.raise_compiler_error("unknown project var '" ~ name ~ "' (python/dbt_vars.py lists them)") }}
    {%- endif -%}
    {%- set spec = schema.properties[name] -%}
    {%- set checked = checked_var_value(var(name, spec.get('default')), spec) -%}
    {%- if checked.problem is not none -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ ": " ~ checked.problem) }}
    {%- endif -%}
    {{ return(checked.value) }}
{%- endmacro %}

{% macro validate_project_vars() -%}
    {#- A var the project does not know would be ignored silently (an old `market`, a typo). -#}
    {%- for name in (invocation_args_dict.get('vars') or {}) if name not in project_vars_schema().properties -%}
        {{ exceptions.raise_compiler_error("unknown project var '" ~ name ~ "' (python/dbt_vars.py lists them)") }}
    {%- endfor -%}
    {%- for name in project_vars_schema().properties -%}
        {%- do sniper_var(name) -%}
    {%- endfor -%}
    select 'project vars checked' as project_vars
{%- endmacro %}

{#- {'value': the value, normalized, 'problem': none or why it does not fit `spec`}. -#}
{% macro checked_var_value(value, spec) -%}
    {%- if 'anyOf' in spec -%}
        {%- if var_is_null(value) and spec.anyOf | selectattr('type', 'equalto', 'null') | list -%}
            {{ return({'value': none, 'problem': none}) }}
        {%- endif -%}
        {{ return(checked_var_value(value, spec.anyOf | rejectattr('type', 'equalto', 'null') | first)) }}
    {%- endif -%}
    {%- set kind = spec.get('type') -%}
    {%- if kind in ('integer', 'number') -%}
        {{ return(checked_number(value, spec)) }}
    {%- elif kind == 'boolean' -%}
        {{ return(checked_boolean(value)) }}
    {%- elif kind == 'string' -%}
        {{ return(checked_string(value, spec)) }}
    {%- elif kind == 'array' -%}
        {%- set items = value.split(',') if value is string else value -%}
        {%- if items is string or items is mapping or items is not iterable -%}
            {{ return({'value': none, 'problem': "expected a list, got '" ~ value ~ "'"}) }}
        {%- endif -%}
        {%- set checked_items = [] -%}
        {%- for item in items -%}
            {%- set checked = checked_var_value(item | string | trim, spec['items']) -%}
            {%- if checked.problem is not none -%}
                {{ return(checked) }}
            {%- endif -%}
            {%- do checked_items.append(checked.value) -%}
        {%- endfor -%}
        {{ return({'value': checked_items or none, 'problem': none}) }}
    {%- elif kind == 'object' -%}
        {%- if value is not mapping -%}
            {{ return({'value': none, 'problem': "expected a mapping, got '" ~ value ~ "'"}) }}
        {%- endif -%}
        {#- Keys: an enum (propertyNames) or a pattern (patternProperties); values: one spec. -#}
        {%- if 'patternProperties' in spec -%}
            {%- set key_spec = {'type': 'string', 'pattern': (spec.patternProperties.keys() | first)} -%}
            {%- set value_spec = spec.patternProperties.values() | first -%}
        {%- else -%}
            {%- set key_spec = {'type': 'string', 'enum': spec.propertyNames.enum} -%}
            {%- set value_spec = spec.additionalProperties -%}
        {%- endif -%}
        {%- set checked_pairs = {} -%}
        {%- for key, item in value.items() -%}
            {%- set checked_key = checked_var_value(key | string, key_spec) -%}
            {%- set checked_item = checked_var_value(item, value_spec) -%}
            {%- for checked in (checked_key, checked_item) if checked.problem is not none -%}
                {{ return({'value': none, 'problem': "entry '" ~ key ~ "': " ~ checked.problem}) }}
            {%- endfor -%}
            {%- do checked_pairs.update({checked_key.value: checked_item.value}) -%}
        {%- endfor -%}
        {{ return({'value': checked_pairs, 'problem': none}) }}
    {%- endif -%}
    {{ return({'value': none, 'problem': "the schema has no rule for type '" ~ kind ~ "'"}) }}
{%- endmacro %}

{% macro var_is_null(value) -%}
    {{ return(value is none or (value is string and value | trim in ('', 'none', 'None', 'null'))) }}
{%- endmacro %}

{% macro checked_number(value, spec) -%}
    {%- set text = value | string | trim -%}
    {%- set pattern = '-?[0-9]+' if spec.type == 'integer' else '-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?' -%}
    {%- if value is sameas true or value is sameas false or not modules.re.fullmatch(pattern, text) -%}
        {{ return({'value': none, 'problem': "expected " ~ ('a whole number' if spec.type == 'integer'
                                                             else 'a number') ~ ", got '" ~ text ~ "'"}) }}
    {%- endif -%}
    {%- set number = text | int if spec.type == 'integer' else text | float -%}
    {%- set bounds = [
        ('minimum', number < spec.minimum if 'minimum' in spec else false, '>= '),
        ('exclusiveMinimum', number <= spec.exclusiveMinimum if 'exclusiveMinimum' in spec else false, '> '),
        ('maximum', number > spec.maximum if 'maximum' in spec else false, '<= '),
        ('exclusiveMaximum', number >= spec.exclusiveMaximum if 'exclusiveMaximum' in spec else false, '< '),
    ] -%}
    {%- for key, broken, relation in bounds if broken -%}
        {{ return({'value': none, 'problem': "must be " ~ relation ~ spec[key] ~ ", got " ~ text}) }}
    {%- endfor -%}
    {{ return({'value': number, 'problem': none}) }}
{%- endmacro %}

{% macro checked_boolean(value) -%}
    {%- set text = value | string | trim | lower -%}
    {%- if value is sameas true or text in ('true', '1', 'yes') -%}
        {{ return({'value': true, 'problem': none}) }}
    {%- elif value is sameas false or text in ('false', '0', 'no') -%}
        {{ return({'value': false, 'problem': none}) }}
    {%- endif -%}
    {{ return({'value': none, 'problem': "expected true or false, got '" ~ text ~ "'"}) }}
{%- endmacro %}

{% macro checked_string(value, spec) -%}
    {%- set text = value | string | trim -%}
    {%- if 'enum' in spec and text not in spec.enum -%}
        {{ return({'value': none, 'problem': "expected one of " ~ (spec.enum | join(', ')) ~ ", got '" ~ text ~ "'"}) }}
    {%- endif -%}
    {%- if 'pattern' in spec and not modules.re.search(spec.pattern, text) -%}
        {{ return({'value': none, 'problem': "'" ~ text ~ "' does not match " ~ spec.pattern}) }}
    {%- endif -%}
    {%- if spec.get('format') == 'date' -%}
        {{ return(checked_date(text, spec)) }}
    {%- endif -%}
    {{ return({'value': text, 'problem': none}) }}
{%- endmacro %}

{% macro checked_date(text, spec) -%}
    {%- set parts = text.split('-') | map('int') | list if modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) else [] -%}
    {%- if not parts or parts[0] < 1 or parts[1] < 1 or parts[1] > 12 or parts[2] < 1
          or parts[2] > days_in_month(parts[0], parts[1]) -%}
        {{ return({'value': none, 'problem': "expected a date YYYY-MM-DD, got '" ~ text ~ "'"}) }}
    {%- endif -%}
    {%- set day = modules.datetime.date(parts[0], parts[1], parts[2]) -%}
    {%- set earliest = modules.datetime.datetime.strptime(spec.get('x-earliest') or '0001-01-01', '%Y-%m-%d').date() -%}
    {%- set latest = modules.datetime.date.today() + modules.datetime.timedelta(days=spec.get('x-max-days-ahead') or 36500) -%}
    {%- if day < earliest or day > latest -%}
        {{ return({'value': none, 'problem': text ~ " is outside " ~ earliest ~ " .. " ~ latest}) }}
    {%- endif -%}
    {{ return({'value': text, 'problem': none}) }}
{%- endmacro %}

{% macro days_in_month(year, month) -%}
    {%- if month == 12 -%}
        {{ return(31) }}
    {%- endif -%}
    {{ return((modules.datetime.date(year, month + 1, 1) - modules.datetime.timedelta(days=1)).day) }}
{%- endmacro %}

{#- `dbt run-operation var_problems --args '{cases: [[name, value], ...]}'`: what is wrong
    with each value (null when it fits), in the cases' order, as one JSON line; nothing runs. -#}
{% macro var_problems(cases) -%}
    {%- set schema = project_vars_schema() -%}
    {%- set problems = [] -%}
    {%- for name, value in cases -%}
        {%- if name in schema.properties -%}
            {%- do problems.append(checked_var_value(value, schema.properties[name]).problem) -%}
        {%- else -%}
            {%- do problems.append('unknown project var') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do print('var problems: ' ~ tojson(problems)) -%}
{%- endmacro %}
