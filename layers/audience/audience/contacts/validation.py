"""Strict checks of contact field values sent as JSON, by the field catalog's type.

Unlike file imports (``audience.imports.coercion``), which read whatever a spreadsheet wrote, the API
takes JSON with real types: a number field wants a JSON number, a boolean field ``true``/``false``.
Values are stored in the same representation imports use (dates ``YYYY-MM-DD``, datetimes UTC
``...Z``, emails lower-cased, phones E.164), so every reader sees one format. Pure: no pyarrow.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from typing import Any

from audience.errors import TooLarge, ValidationFailed
from audience.fields import SYSTEM_FIELDS, FieldCatalog, FieldType
from audience.imports.coercion import format_datetime
from audience.imports.identity import IdentityError, normalise_email, normalise_phone

MAX_STRING_CHARS = 2_000
MAX_LIST_ITEMS = 1_000
MAX_LIST_ITEM_CHARS = 1_000
MAX_ABS_NUMBER = 1e15
MIN_ABS_FRACTION = 1e-9
MAX_CONTACT_BYTES = 300_000  # a DynamoDB item is at most 400 KB
CONTACT_ID = re.compile(r"^[^\s/\x00-\x1f\x7f]{1,128}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def check_contact_id(contact_id: str, path: str = "{contact_id}") -> str:
    if not isinstance(contact_id, str) or not CONTACT_ID.match(contact_id):
        raise ValidationFailed(
            "invalid contact id",
            [{"path": path, "message": "1-128 characters, no spaces, '/' or control characters"}],
        )
    return contact_id


def check_value(name: str, kind: FieldType, value: Any, *, default_region: str | None = None) -> Any:
    """The stored form of one non-null value, or ValueError whose message says what is expected."""
    if kind is FieldType.STRING:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        text = value.strip()
        if len(text) > MAX_STRING_CHARS:
            raise ValueError(f"at most {MAX_STRING_CHARS} characters")
        if name == "email" and text:
            return normalise_email(text)
        if name == "phone" and text:
            return normalise_phone(text, default_region)
        return text
    if kind is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("expected a number")
        if not math.isfinite(value) or abs(value) > MAX_ABS_NUMBER:
            raise ValueError(f"expected a finite number between -{MAX_ABS_NUMBER:g} and {MAX_ABS_NUMBER:g}")
        if isinstance(value, float) and value != 0 and abs(value) < MIN_ABS_FRACTION:
            raise ValueError(f"numbers closer to zero than {MIN_ABS_FRACTION:g} are not stored")
        return value
    if kind is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if kind is FieldType.DATE:
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            raise ValueError("expected a date YYYY-MM-DD")
        return date.fromisoformat(value).isoformat()
    if kind is FieldType.DATETIME:
        if not isinstance(value, str) or not _ISO_DATETIME.match(value):
            raise ValueError("expected an ISO 8601 date-time, e.g. 2025-03-01T12:00:00Z")
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # documented: a zoneless date-time is UTC
        return format_datetime(parsed)
    if kind is FieldType.LIST:
        if not isinstance(value, list):
            raise ValueError("expected a list of strings")
        if len(value) > MAX_LIST_ITEMS:
            raise ValueError(f"at most {MAX_LIST_ITEMS} items")
        out: list[str] = []
        seen: set[str] = set()
        for item in value:
            if not isinstance(item, str):
                raise ValueError("expected a list of strings")
            text = item.strip()
            if len(text) > MAX_LIST_ITEM_CHARS:
                raise ValueError(f"items of at most {MAX_LIST_ITEM_CHARS} characters")
            if text and text.casefold() not in seen:
                seen.add(text.casefold())
                out.append(text)
        return out
    raise ValueError(f"unsupported field type {kind}")


def check_fields(
    body: Any,
    catalog: FieldCatalog,
    *,
    contact_id: str | None = None,
    default_region: str | None = None,
    allow_null: bool = False,
) -> dict[str, Any]:
    """The stored field values of a contact body ``{field: value, ...}``; ValidationFailed naming
    every bad field's JSON path. ``created_at``/``updated_at`` are the service's and are ignored;
    ``contact_id`` may repeat the id but not contradict it. ``null`` removes a field (merge only)."""
    if not isinstance(body, dict):
        raise ValidationFailed(
            "a contact is a JSON object of fields", [{"path": "/", "message": "an object"}]
        )
    if len(json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")) > MAX_CONTACT_BYTES:
        raise TooLarge(f"a contact may hold at most {MAX_CONTACT_BYTES} bytes of fields")
    details: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    for name, value in body.items():
        path = "/" + name.replace("~", "~0").replace("/", "~1")
        if name == "contact_id":
            if contact_id is not None and value != contact_id:
                details.append({"path": path, "message": "must equal the contact id in the URL"})
            continue
        if name in SYSTEM_FIELDS:
            continue
        if name not in catalog:
            details.append({"path": path, "message": "unknown field; declare it first with POST /fields"})
            continue
        if value is None:
            if allow_null:
                values[name] = None
            continue
        try:
            values[name] = check_value(name, catalog.type_of(name), value, default_region=default_region)
        except (ValueError, IdentityError) as exc:
            details.append({"path": path, "message": str(exc)})
    if details:
        raise ValidationFailed("the contact is invalid", details)
    return values
