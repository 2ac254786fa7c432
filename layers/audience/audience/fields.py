"""The field catalog: which contact fields exist and what type each has.

Every rule, import column and export column is checked against a catalog made of the built-in fields
(SPEC §2) plus the tenant's declared custom fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class FieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    LIST = "list"


BUILTIN_FIELDS: Mapping[str, FieldType] = MappingProxyType(
    {
        "contact_id": FieldType.STRING,
        "email": FieldType.STRING,
        "phone": FieldType.STRING,
        "first_name": FieldType.STRING,
        "last_name": FieldType.STRING,
        "company": FieldType.STRING,
        "country": FieldType.STRING,
        "state": FieldType.STRING,
        "city": FieldType.STRING,
        "gender": FieldType.STRING,
        "age": FieldType.NUMBER,
        "score": FieldType.NUMBER,
        "sent_count": FieldType.NUMBER,
        "clicks_count": FieldType.NUMBER,
        "subscribed": FieldType.BOOLEAN,
        "created_at": FieldType.DATETIME,
        "updated_at": FieldType.DATETIME,
        "last_received_at": FieldType.DATETIME,
        "last_clicked_at": FieldType.DATETIME,
        "expected_purchase_date": FieldType.DATE,
        "stage": FieldType.STRING,
        "status": FieldType.STRING,
        "product": FieldType.STRING,
        "carrier": FieldType.STRING,
        "tags": FieldType.LIST,
    }
)

# Fields the service maintains itself; callers may read them but never write them directly.
SYSTEM_FIELDS = frozenset({"contact_id", "created_at", "updated_at"})

CUSTOM_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class UnknownFieldError(KeyError):
    """Raised when a field is neither built in nor declared by the tenant."""


@dataclass(frozen=True)
class FieldCatalog:
    """Built-in fields plus one tenant's custom fields (name -> type)."""

    custom: Mapping[str, FieldType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = set(self.custom) & set(BUILTIN_FIELDS)
        if clash:
            raise ValueError(f"custom fields shadow built-in fields: {sorted(clash)}")
        typed = {name: FieldType(kind) for name, kind in self.custom.items()}
        object.__setattr__(self, "custom", MappingProxyType(typed))

    @property
    def fields(self) -> dict[str, FieldType]:
        return {**BUILTIN_FIELDS, **self.custom}

    def __contains__(self, name: object) -> bool:
        return name in BUILTIN_FIELDS or name in self.custom

    def type_of(self, name: str) -> FieldType:
        if name in BUILTIN_FIELDS:
            return BUILTIN_FIELDS[name]
        if name in self.custom:
            return self.custom[name]
        raise UnknownFieldError(name)

    def names(self) -> list[str]:
        return list(BUILTIN_FIELDS) + sorted(self.custom)


DEFAULT_CATALOG = FieldCatalog()
