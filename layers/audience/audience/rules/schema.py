"""The JSON Schema of the rule language, generated from the pydantic models and the operator table.

Language-neutral callers (front ends, other services) validate rules with `shared/schemas/rule.schema.json`
before sending them. The models give the shape of each form; the operator table adds which operators
each built-in field's type takes and what value each operator expects. What a schema cannot express
(custom fields' types, nesting depth, the total number of conditions, `between` order, the regex subset,
segment existence) is left to `parse_rule`, which the service always runs. Names of the tenant's carry
a custom `format` (`field-name`, `segment-id`: `audience.json_types.TENANT_NAME_FORMATS`), and so do
instants, a date or a date-time (`date-or-date-time`: `audience.json_types.DATE_OR_DATE_TIME`). The API's
OpenAPI document includes this schema as its `Rule*` components (`functions/api/openapi_document.py`).

    python -m audience.rules.schema shared/schemas/rule.schema.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from audience.fields import BUILTIN_FIELDS, FieldType
from audience.json_types import (
    DATE_OR_DATE_TIME_SCHEMA,
    FIELD_NAME,
    SEGMENT_ID,
    TENANT_NAME_FORMATS,
    StorableNumber,
)
from audience.rules.model import MAX_CONDITIONS, MAX_DAYS, MAX_DEPTH, MAX_LIST, MAX_STRING, Rule
from audience.rules.operators import (
    AGGREGATE_FUNCTIONS,
    AGGREGATES_NEEDING_FIELD,
    NUMERIC_AGGREGATES,
    OPERATORS,
    PROPERTY_OPERATORS,
    ValueKind,
)

SCHEMA_ID = "https://schemas.audience-segments.dev/rule.schema.json"

_STRING = {"type": "string", "maxLength": MAX_STRING}
# a number DynamoDB can hold: the service stores rules, and refuses a body holding any other
_NUMBER = TypeAdapter(StorableNumber).json_schema()
_INSTANT = {**DATE_OR_DATE_TIME_SCHEMA, "maxLength": 64}


def _list(items: dict[str, Any], *, exactly: int | None = None) -> dict[str, Any]:
    if exactly is not None:
        return {"type": "array", "items": items, "minItems": exactly, "maxItems": exactly}
    return {"type": "array", "items": items, "minItems": 1, "maxItems": MAX_LIST}


VALUE_SCHEMAS: dict[ValueKind, dict[str, Any]] = {
    ValueKind.NONE: {"type": "null"},
    ValueKind.STRING: _STRING,
    ValueKind.STRINGS: _list(_STRING),
    ValueKind.NUMBER: _NUMBER,
    ValueKind.NUMBERS: _list(_NUMBER),
    ValueKind.NUMBER_RANGE: _list(_NUMBER, exactly=2),
    ValueKind.INSTANT: _INSTANT,
    ValueKind.INSTANT_RANGE: _list(_INSTANT, exactly=2),
    ValueKind.DAYS: {"type": "integer", "minimum": 0, "maximum": MAX_DAYS},
    ValueKind.SCALAR: {"anyOf": [_STRING, _NUMBER]},
    ValueKind.SCALARS: {"anyOf": [_list(_STRING), _list(_NUMBER)]},
}


def _value_rules(operators: dict[str, set[ValueKind]]) -> list[dict[str, Any]]:
    """`if op is X then value is what X takes` for each operator (a union when types disagree)."""
    rules = []
    for op, kinds in sorted(operators.items()):
        ordered = sorted(kinds)
        schemas = [VALUE_SCHEMAS[k] for k in ordered]
        then: dict[str, Any] = {"properties": {"value": schemas[0] if len(schemas) == 1 else {"anyOf": schemas}}}
        if ValueKind.NONE not in kinds:
            then["required"] = ["value"]
        rules.append({"if": {"properties": {"op": {"const": op}}, "required": ["op"]}, "then": then})
    return rules


def _ops(table: dict[str, ValueKind]) -> dict[str, set[ValueKind]]:
    return {op: {kind} for op, kind in table.items()}


def _merged(*tables: dict[str, ValueKind]) -> dict[str, set[ValueKind]]:
    merged: dict[str, set[ValueKind]] = {}
    for table in tables:
        for op, kind in table.items():
            merged.setdefault(op, set()).add(kind)
    return merged


def _field_condition(base: dict[str, Any]) -> dict[str, Any]:
    every = _merged(*OPERATORS.values())
    base["properties"]["field"].update(format=FIELD_NAME, description=TENANT_NAME_FORMATS[FIELD_NAME])
    base["properties"]["op"] = {"enum": sorted(every), "type": "string"}
    base["properties"]["value"] = {"description": "absent (or null) for is_empty, is_not_empty, is_true, is_false"}
    per_type = []
    for field_type in FieldType:
        names = sorted(name for name, t in BUILTIN_FIELDS.items() if t is field_type)
        ops = OPERATORS[field_type]
        per_type.append({
            "if": {"properties": {"field": {"enum": names}}, "required": ["field"]},
            "then": {"properties": {"op": {"enum": list(ops)}}, "allOf": _value_rules(_ops(ops))},
        })
    base["allOf"] = _value_rules(every) + per_type
    base["description"] = (
        "A condition on a contact field. Built-in fields' operators are checked here; a custom field's "
        "type comes from the tenant's catalog (GET /fields) and is checked by the service."
    )
    return base


def _property_condition(base: dict[str, Any]) -> dict[str, Any]:
    base["properties"]["field"] = {**_STRING, "minLength": 1}
    base["properties"]["op"] = {"enum": list(PROPERTY_OPERATORS), "type": "string"}
    base["properties"]["value"] = {}
    base["allOf"] = _value_rules(_ops(PROPERTY_OPERATORS))
    return base


def _aggregate(base: dict[str, Any]) -> dict[str, Any]:
    numeric, instant = OPERATORS[FieldType.NUMBER], OPERATORS[FieldType.DATETIME]
    base["properties"]["op"] = {"enum": sorted(set(numeric) | set(instant)), "type": "string", "default": "gte"}
    prop = {**_STRING, "minLength": 1}
    base["properties"]["field"] = {"anyOf": [prop, {"type": "null"}],
                                   "description": "event property (sum, min, max, avg); absent or null otherwise"}
    base["properties"]["value"] = {"default": 1}
    base["allOf"] = [
        {"if": {"properties": {"fn": {"enum": list(AGGREGATES_NEEDING_FIELD)}}, "required": ["fn"]},
         "then": {"required": ["field"], "properties": {"field": prop}},
         "else": {"properties": {"field": {"type": "null"}}}},
        {"if": {"properties": {"fn": {"enum": list(NUMERIC_AGGREGATES)}}},
         "then": {"properties": {"op": {"enum": list(numeric)}}, "allOf": _value_rules(_ops(numeric))},
         "else": {"properties": {"op": {"enum": list(instant)}}, "required": ["op"],
                  "allOf": _value_rules(_ops(instant))}},
    ]
    base["description"] = "Per-contact aggregate of the selected events, compared with `op` and `value`."
    base["properties"]["fn"]["enum"] = list(AGGREGATE_FUNCTIONS)
    return base


def rule_json_schema() -> dict[str, Any]:
    """The rule language as a JSON Schema (draft 2020-12)."""
    schema = TypeAdapter(Rule).json_schema(by_alias=True)
    defs = schema["$defs"]
    defs["FieldCondition"] = _field_condition(defs["FieldCondition"])
    defs["PropertyCondition"] = _property_condition(defs["PropertyCondition"])
    defs["Aggregate"] = _aggregate(defs["Aggregate"])
    defs["SegmentRef"]["properties"]["segment"].update(
        format=SEGMENT_ID, description=TENANT_NAME_FORMATS[SEGMENT_ID]
    )
    event = defs["EventCondition"]["properties"]
    # every leaf (field, event, segment, sample and where condition) counts towards MAX_CONDITIONS
    event["where"]["maxItems"] = MAX_CONDITIONS - 1
    event["within_last_days"] = {"type": "integer", "minimum": 0, "maximum": MAX_DAYS}
    event["aggregate"].pop("default", None)
    event["aggregate"]["description"] = 'defaults to {"fn": "count", "op": "gte", "value": 1}'
    sample = defs["SampleRange"]
    sample["description"] = (
        "A random bucket of the contact id, in percent: true when int(sha256((seed + ':' + contact_id)"
        ".encode()).hexdigest()[:8], 16) % 10000 / 100 is in [from, to). from < to is checked by the service."
    )
    for form in ("AllOf", "AnyOf"):
        key = form[:3].lower()
        defs[form]["properties"][key]["maxItems"] = MAX_CONDITIONS
    for definition in defs.values():
        for prop in definition.get("properties", {}).values():
            prop.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Segment rule",
        "description": (
            "The rule language of SPEC §2. Also enforced by the service and not expressible here: nesting "
            f"depth <= {MAX_DEPTH}, at most {MAX_CONDITIONS} conditions, custom fields' operators, `between` "
            "low <= high, regular expressions in the subset both RE2 and Python accept, existing segments."
        ),
        **schema,
    }


def render() -> str:
    return json.dumps(rule_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m audience.rules.schema <output path>", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
