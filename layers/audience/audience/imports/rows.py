"""Raw rows -> typed contact rows or reject records. A row with any bad value is rejected whole
(with every problem listed) rather than imported half-right; blank rows are skipped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from audience.fields import FieldCatalog
from audience.imports.coercion import CoercionError, CoercionOptions, coerce, is_empty
from audience.imports.mapping import ColumnMapping
from audience.imports.table import RawTable

CONTACT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
BEYOND_HEADER = "(beyond the header)"
MAX_REPORTED_VALUE_CHARS = 200


@dataclass(frozen=True)
class RejectRecord:
    """One line of the reject report."""

    row: int
    column: str
    value: str
    reason: str


@dataclass
class ContactRow:
    """A valid row: coerced values by field name (``contact_id``, ``email``, ``phone`` included)."""

    row: int
    fields: dict[str, Any] = field(default_factory=dict)

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
    table: RawTable, mapping: ColumnMapping, catalog: FieldCatalog, options: CoercionOptions
) -> Iterator[RowOutcome]:
    width = len(table.header)
    typed = [(i, name, catalog.type_of(name), table.header[i]) for i, name in sorted(mapping.columns.items())]
    for row_number, values in table.rows:
        if all(is_empty(v) for v in values):
            continue
        rejects: list[RejectRecord] = []
        fields: dict[str, Any] = {}
        for index, name, field_type, header in typed:
            value = values[index]
            if is_empty(value):
                continue
            try:
                if name == "contact_id":
                    fields[name] = _contact_id(value)
                else:
                    fields[name] = coerce(value, name, field_type, options)
            except CoercionError as exc:
                rejects.append(RejectRecord(row_number, header, shown(value), str(exc)))
        extra = [v for v in values[width:] if not is_empty(v)]
        if extra:
            rejects.append(
                RejectRecord(
                    row_number,
                    BEYOND_HEADER,
                    shown(extra[0]),
                    f"{len(extra)} value(s) beyond the last header column",
                )
            )
        if not rejects and not fields:
            rejects.append(RejectRecord(row_number, "", "", "no value in any imported column"))
        yield RowOutcome(row_number, None if rejects else ContactRow(row_number, fields), rejects)


def _contact_id(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not CONTACT_ID.match(text):
        raise CoercionError("not a valid contact id (letters, digits, _ . : @ -, at most 128)")
    return text
