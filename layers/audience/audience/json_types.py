"""Pydantic types that validate exactly what the JSON Schema they generate allows.

JSON Schema's ``integer`` is any number with no fractional part, so ``3.0`` is an integer there:
``json_int`` accepts it (as ``3``) while staying strict about everything else - ``true`` and ``"3"``
are not integers. The others give the document what a plain type would leave out (non-null PATCH
fields, not-blank text, date formats, DynamoDB's number range), so schemathesis' "schema-valid data
is accepted" check holds (docs/api.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema


def _whole_float_as_int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def json_int(**bounds: Any) -> Any:
    """A JSON Schema ``integer`` within ``bounds`` (``ge``, ``le``...): an int, or a float with no
    fractional part; never a bool or a string. The bounds sit before the float conversion so that
    pydantic still writes them as ``minimum``/``maximum``, also inside ``json_int(...) | None``."""
    return Annotated[int, Strict(), Field(**bounds), BeforeValidator(_whole_float_as_int)]


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def may_be_absent(**constraints: Any) -> Any:
    """A field that may be left out but never sent as ``null`` (a PATCH field that cannot be
    cleared): ``None`` stands for "absent" only, so the schema shows no ``null`` default."""
    return Field(default=None, json_schema_extra=_without_default, **constraints)


NOT_BLANK = r"[^\s\x1c-\x1f\x85]"
"""The pattern of a text that is not all white space (what ``str.strip()`` would leave non-empty):
``str.strip()`` also takes U+001C-U+001F, which neither pydantic's nor ECMA-262's ``\\s`` counts as
space, and U+0085 (NEL), which pydantic's counts but ECMA-262's (the document's dialect) does not."""


DATE_OR_DATE_TIME = "date-or-date-time"
"""The custom ``format`` of text that is an RFC 3339 ``date`` or ``date-time``. One format, not
``anyOf: [{format: date}, {format: date-time}]``: a tool that builds invalid data by breaking one
branch of an ``anyOf`` (schemathesis does) would send a date-time as "not a date" and count its
acceptance as a fault. A validator that does not know the format accepts any string there."""

DATE_OR_DATE_TIME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": DATE_OR_DATE_TIME,
    "description": "an ISO 8601 calendar date (2024-05-01) or date-time (2024-05-01T12:00:00Z; UTC if no offset)",
}

DateOrDateTime = Annotated[str, WithJsonSchema(DATE_OR_DATE_TIME_SCHEMA)]
"""Text read as an ISO 8601 date or date-time (``datetime.fromisoformat``): the document says so
(``format: date-or-date-time``), not just "a string"."""


StorableNumber = Annotated[
    int | float,
    WithJsonSchema(
        {
            "type": "number",
            "anyOf": [
                {"const": 0},
                {"minimum": 1e-130, "exclusiveMaximum": 1e126},
                {"exclusiveMinimum": -1e126, "maximum": -1e-130},
            ],
        }
    ),
]
"""A number DynamoDB can hold: zero or a magnitude in [1e-130, 1e126), as the body reader checks
(``request_context._unstorable``). Its other limit, 38 significant digits, only an integer literal
that long can break, and no JSON Schema keyword counts digits."""


# Names that must exist in the caller's tenant. No JSON Schema keyword can say "an id this tenant
# has", so the document names the domain with a custom ``format`` (an annotation: validators that do
# not know it accept any string, and the service answers an unknown name with 422 or 404 at its
# path). A client, or the fuzzer (tests/e2e/fuzz_hooks.py), supplies values of these formats from the
# tenant itself (docs/api.md, "Tenant names").
SEGMENT_ID = "segment-id"
CONTACT_ID = "contact-id"
FIELD_NAME = "field-name"
CATEGORY_NAME = "category-name"
TENANT_NAME_FORMATS = {
    SEGMENT_ID: "the id of a segment of this tenant (GET /segments)",
    CONTACT_ID: "the id of a contact of this tenant (GET /contacts)",
    FIELD_NAME: "a field of this tenant's catalog: built in or declared through /fields (GET /fields)",
    CATEGORY_NAME: "the name of a category of this tenant (GET /categories)",
}


def tenant_name(kind: str) -> dict[str, Any]:
    """``json_schema_extra`` of a string that must name something of the tenant's: ``format: kind``."""
    return {"format": kind}


DAY_COUNT_OPERATORS = frozenset({"within_last_days", "more_than_days_ago", "within_next_days"})
"""The operators whose value is a day count (``audience.rules.operators``' ``ValueKind.DAYS``)."""


def whole_day_counts(node: Any) -> Any:
    """The rule document with its day counts (a ``within_last_days`` window, the value of a day
    operator) written as ints: the rule schema's ``type: integer`` allows ``30.0``, the parser
    takes it as 30, and what is stored, checked against retention (``audience.event_retention``) and
    read by the evaluators is then the same int whichever way the caller wrote it."""
    if isinstance(node, dict):
        out = {key: whole_day_counts(value) for key, value in node.items()}
        if "event" in out and "within_last_days" in out:
            out["within_last_days"] = _whole_float_as_int(out["within_last_days"])
        if out.get("op") in DAY_COUNT_OPERATORS and "value" in out:
            out["value"] = _whole_float_as_int(out["value"])
        return out
    if isinstance(node, list):
        return [whole_day_counts(item) for item in node]
    return node


RULE_PLACEHOLDER = "x-rule"
RuleJson = Annotated[dict[str, Any], AfterValidator(whole_day_counts), WithJsonSchema({RULE_PLACEHOLDER: "SPEC §2"})]
"""A rule of the rule language (SPEC §2): parsed by ``audience.rules.parse_rule`` against the
tenant's catalog. In the document, ``functions/api/openapi_document.py`` puts a ``$ref`` to the
rule JSON Schema (``shared/schemas/rule.schema.json``, as components ``Rule*``) where this
placeholder key stands (pydantic itself cannot write a reference to a schema it does not generate)."""
