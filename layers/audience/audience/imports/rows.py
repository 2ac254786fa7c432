"""Raw rows -> typed contact rows and report records: values, not rows.

A row that identifies a contact (a valid contact_id, email or phone, or no identity column filled at
all: a new contact) imports even when an optional value in it is bad: that value is dropped and
reported (``value dropped``). The row is rejected (``row rejected``) only when nothing identifies the
contact — its contact_id is invalid, or it gave an email/phone and none of them is valid — or its
structure is broken (values beyond the header), or nothing valid is left. Blank rows are skipped.
``created_at`` (the file's creation time of the contact) is kept apart from the fields; a time in
the future is a dropped value."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from audience.fields import FieldCatalog, FieldType
from audience.imports.coercion import CoercionError, CoercionOptions, converter, format_datetime, is_empty, to_datetime
from audience.imports.mapping import ColumnMapping
from audience.imports.table import RawTable

CONTACT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
BEYOND_HEADER = "(beyond the header)"
MAX_REPORTED_VALUE_CHARS = 200
IDENTITY_FIELDS = ("contact_id", "email", "phone")
ROW_REJECTED = "row rejected"
VALUE_DROPPED = "value dropped"
COLUMN_IGNORED = "column ignored"


@dataclass(frozen=True)
class RejectRecord:
    """One line of the report: a rejected row's problem, or a dropped value of an imported row."""

    row: int
    column: str
    value: str
    reason: str
    action: str = ROW_REJECTED


@dataclass
class ContactRow:
    """A valid row: coerced values by field name (``contact_id``, ``email``, ``phone`` included)."""

    row: int
    fields: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None

    @property
    def contact_id(self) -> str | None:
        return self.fields.get("contact_id")

    @property
    def email(self) -> str | None:
        return self.fields.get("email")

    @property
    def phone(self) -> str | None:
        return self.fields.get("phone")


@dataclass
class RowOutcome:
    row: int
    contact: ContactRow | None
    rejects: list[RejectRecord]


def shown(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_REPORTED_VALUE_CHARS else text[:MAX_REPORTED_VALUE_CHARS] + "…"


def validate_rows(
    table: RawTable,
    mapping: ColumnMapping,
    catalog: FieldCatalog,
    options: CoercionOptions,
    now: datetime | None = None,
) -> Iterator[RowOutcome]:
    width = len(table.header)
    latest = now or datetime.now(UTC)
    columns = [
        (i, name, _column_reader(name, catalog.type_of(name), options, latest), table.header[i])
        for i, name in sorted(mapping.columns.items())
    ]
    for row_number, values in table.rows:
        if _blank(values):
            continue
        problems: list[RejectRecord] = []
        bad_fields: set[str] = set()
        fields: dict[str, Any] = {}
        created_at: str | None = None
        for index, name, read, header in columns:
            value = values[index]
            if type(value) is str:  # a CSV cell: is_empty without the call
                if not value.strip():
                    continue
            elif is_empty(value):
                continue
            try:
                if name == "created_at":
                    created_at = read(value)
                else:
                    fields[name] = read(value)
            except CoercionError as exc:
                problems.append(RejectRecord(row_number, header, shown(value), str(exc)))
                bad_fields.add(name)
        extra = [v for v in values[width:] if not is_empty(v)] if len(values) > width else None
        if extra:
            problems.append(
                RejectRecord(
                    row_number,
                    BEYOND_HEADER,
                    shown(extra[0]),
                    f"{len(extra)} value(s) beyond the last header column",
                )
            )
        why = _why_rejected(fields, bad_fields, bool(extra), bool(problems))
        if why is not None:
            rejects = problems or [RejectRecord(row_number, "", "", why)]
            yield RowOutcome(row_number, None, rejects)
            continue
        dropped = [RejectRecord(p.row, p.column, p.value, p.reason, VALUE_DROPPED) for p in problems]
        yield RowOutcome(row_number, ContactRow(row_number, fields, created_at), dropped)


def _column_reader(
    name: str, field_type: FieldType, options: CoercionOptions, latest: datetime
) -> Callable[[Any], Any]:
    """How one mapped column's non-empty cells are read (chosen once per column, not per cell)."""
    if name == "contact_id":
        return _contact_id
    if name == "created_at":
        return lambda value: _created_at(value, options, latest)
    return converter(name, field_type, options)


def _blank(values: list[Any]) -> bool:
    """Every cell empty (``is_empty``), text cells tested inline."""
    for value in values:
        if type(value) is str:
            if value.strip():
                return False
        elif not is_empty(value):
            return False
    return True


def _why_rejected(fields: dict[str, Any], bad: set[str], broken: bool, problems: bool) -> str | None:
    """Why the row cannot import at all (its problems are then reported as rejections), or None."""
    if broken:
        return "values beyond the header"
    if "contact_id" in bad:
        return "the contact id is not valid"
    if not bad.isdisjoint(IDENTITY_FIELDS) and not any(f in fields for f in IDENTITY_FIELDS):
        return "nothing valid identifies the contact"
    if not fields:
        return "no valid value in any imported column" if problems else "no value in any imported column"
    return None


def _created_at(value: Any, options: CoercionOptions, latest: datetime) -> str:
    stamp = to_datetime(value, options.date_order)
    if stamp > latest:
        raise CoercionError("a creation time in the future")
    return format_datetime(stamp)


def _contact_id(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not CONTACT_ID.match(text):
        raise CoercionError("not a valid contact id (letters, digits, _ . : @ -, at most 128)")
    return text
