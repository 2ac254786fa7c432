"""Validation of bulk-job bodies, strictly typed by the field catalog (JSON types, not the lenient
spreadsheet coercion of imports): every problem is reported with its JSON path (``/set/<field>``).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from audience.errors import ValidationFailed
from audience.exports.request import pydantic_details
from audience.fields import BUILTIN_FIELDS, CUSTOM_FIELD_NAME, SYSTEM_FIELDS, FieldCatalog, FieldType
from audience.instants import in_utc
from audience.json_types import FIELD_NAME, NOT_BLANK, StorableNumber

MAX_SET_FIELDS = 50
MAX_STRING_CHARS = 2_000
MAX_LIST_ITEMS = 1_000
MAX_LIST_ITEM_CHARS = 1_000
# Unique per contact (they identify a person): one value for a whole segment would collide.
UNIQUE_FIELDS = frozenset({"email", "phone"})


def value_schemas() -> dict[FieldType, dict[str, Any]]:
    """The JSON Schema of a value ``stored_value`` takes for each field type (null aside)."""
    number = TypeAdapter(StorableNumber).json_schema()
    return {
        FieldType.STRING: {"type": "string", "maxLength": MAX_STRING_CHARS},
        FieldType.NUMBER: number,
        FieldType.BOOLEAN: {"type": "boolean"},
        FieldType.DATE: {"type": "string", "format": "date"},
        FieldType.DATETIME: {"type": "string", "format": "date-time"},
        FieldType.LIST: {
            "type": "array",
            "maxItems": MAX_LIST_ITEMS,
            "items": {"type": "string", "maxLength": MAX_LIST_ITEM_CHARS},
        },
    }


def _set_schema(schema: dict[str, Any]) -> None:
    """What ``parse_mass_update`` checks, as far as a schema can: the built-in fields a mass update
    may set, each with its value type; any other name is a custom field of the tenant's catalog
    (``format: field-name``, typed by the catalog); never a field the service maintains or one that
    identifies a single contact."""
    settable = sorted(set(BUILTIN_FIELDS) - SYSTEM_FIELDS - UNIQUE_FIELDS)
    values = value_schemas()
    schema["properties"] = {name: {"anyOf": [values[BUILTIN_FIELDS[name]], {"type": "null"}]} for name in settable}
    schema["propertyNames"] = {
        "pattern": CUSTOM_FIELD_NAME.pattern,
        "format": FIELD_NAME,
        "not": {"enum": sorted(SYSTEM_FIELDS | UNIQUE_FIELDS)},
    }
    schema["additionalProperties"] = {"description": "a custom field: a value of its type, or null"}


class MassUpdateBody(BaseModel):
    """The body of ``POST /segments/{id}/mass-update`` (also its OpenAPI schema)."""

    model_config = ConfigDict(extra="forbid")

    set: dict[str, Any] = Field(
        min_length=1,
        max_length=MAX_SET_FIELDS,
        description="field name -> new value (null removes the field)",
        json_schema_extra=_set_schema,
    )


class ResetScoreRequest(BaseModel):
    """The body of ``POST /segments/{id}/reset-score`` (also its OpenAPI schema)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1_000, pattern=NOT_BLANK, description="why; kept in the audit record")
    confirm: Literal[True] = Field(description="must be true: every member's score becomes 0")


def parse_mass_update(body: Any, catalog: FieldCatalog) -> dict[str, Any]:
    """The ``set`` map with values in their stored form (None removes the field)."""
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object", [{"path": "", "message": "expected an object"}])
    details = [{"path": f"/{key}", "message": "unknown property"} for key in body if key != "set"]
    changes = body.get("set")
    if not isinstance(changes, dict) or not changes:
        details.append({"path": "/set", "message": "an object of field: value with at least one field"})
        raise ValidationFailed("invalid mass update", details)
    if len(changes) > MAX_SET_FIELDS:
        details.append({"path": "/set", "message": f"at most {MAX_SET_FIELDS} fields at once"})
    stored: dict[str, Any] = {}
    for name, value in changes.items():
        path = f"/set/{name}"
        if name not in catalog:
            details.append({"path": path, "message": f"unknown field {name!r}"})
        elif name in SYSTEM_FIELDS:
            details.append({"path": path, "message": f"{name} is maintained by the service and cannot be set"})
        elif name in UNIQUE_FIELDS:
            details.append(
                {
                    "path": path,
                    "message": f"{name} identifies one contact; it cannot be set on a whole segment",
                }
            )
        else:
            try:
                stored[name] = stored_value(value, catalog.type_of(name))
            except ValueError as exc:
                details.append({"path": path, "message": str(exc)})
    if details:
        raise ValidationFailed("invalid mass update", details)
    return stored


def stored_value(value: Any, kind: FieldType) -> Any:
    """``value`` as contacts store it (see ``imports.coercion``), or ValueError saying what is expected."""
    if value is None:
        return None
    if kind is FieldType.STRING:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        if len(value) > MAX_STRING_CHARS:
            raise ValueError(f"at most {MAX_STRING_CHARS} characters")
        return value
    if kind is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError("expected a number")
        return value
    if kind is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if kind is FieldType.DATE:
        expected = "expected a date YYYY-MM-DD"
        try:
            return date.fromisoformat(_text(value, expected)).isoformat()
        except ValueError:
            raise ValueError(expected) from None
    if kind is FieldType.DATETIME:
        expected = "expected an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z"
        try:
            moment = datetime.fromisoformat(_text(value, expected))
        except ValueError:
            raise ValueError(expected) from None
        moment = in_utc(moment)
        return moment.isoformat().replace("+00:00", "Z")
    if kind is FieldType.LIST:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError("expected a list of strings")
        if len(value) > MAX_LIST_ITEMS or any(len(item) > MAX_LIST_ITEM_CHARS for item in value):
            raise ValueError(f"at most {MAX_LIST_ITEMS} items of at most {MAX_LIST_ITEM_CHARS} characters")
        return list(dict.fromkeys(value))
    raise ValueError(f"fields of type {kind} cannot be set")


def parse_reset_score(body: Any) -> ResetScoreRequest:
    try:
        request = ResetScoreRequest.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed("invalid score reset", pydantic_details(exc)) from None
    if not request.reason.strip():  # the pattern's \S (Rust regex) lets U+001C-U+001F through; strip() does not
        raise ValidationFailed("a reason is required", [{"path": "/reason", "message": "must not be blank"}])
    return request


def _text(value: Any, expected: str) -> str:
    if not isinstance(value, str):
        raise ValueError(expected)
    return value
