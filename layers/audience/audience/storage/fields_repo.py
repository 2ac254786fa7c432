"""Custom fields (MainTable ``T#{tenant}`` / ``FIELD#{name}``) and the tenant's field catalog."""

from __future__ import annotations

from pynamodb.exceptions import PutError

from audience.errors import Conflict, ValidationFailed
from audience.fields import BUILTIN_FIELDS, CUSTOM_FIELD_NAME, FieldCatalog, FieldType
from audience.storage import rules_version
from audience.storage.base import now_iso
from audience.storage.models import FieldItem, tenant_pk
from audience.storage.paging import condition_failed
from audience.storage.records import CustomField

PREFIX = "FIELD#"
MAX_CUSTOM_FIELDS = 200


def _record(item: FieldItem) -> CustomField:
    return CustomField(name=item.name, type=item.field_type, label=item.label, created_at=item.created_at)


def list_custom(tenant: str) -> list[CustomField]:
    items = FieldItem.query(tenant_pk(tenant), FieldItem.sk.startswith(PREFIX), consistent_read=True)
    return [_record(item) for item in items]


def catalog(tenant: str) -> FieldCatalog:
    """Built-in fields plus the tenant's custom fields (one Query)."""
    return FieldCatalog(custom={f.name: FieldType(f.type) for f in list_custom(tenant)})


def create(tenant: str, name: str, field_type: str, label: str | None = None) -> CustomField:
    """Declare a custom field; names are unique and never shadow built-in fields."""
    problems = []
    if not CUSTOM_FIELD_NAME.match(name or ""):
        problems.append({"path": "/name", "message": "lower-case letters, digits and _, starting with a letter"})
    elif name in BUILTIN_FIELDS:
        problems.append({"path": "/name", "message": f"{name!r} is a built-in field"})
    if field_type not in set(FieldType):
        problems.append({"path": "/type", "message": f"one of {', '.join(FieldType)}"})
    if problems:
        raise ValidationFailed("invalid custom field", problems)
    if len(list_custom(tenant)) >= MAX_CUSTOM_FIELDS:
        raise Conflict(f"a tenant can declare at most {MAX_CUSTOM_FIELDS} custom fields")
    item = FieldItem(
        tenant_pk(tenant), PREFIX + name, name=name, field_type=field_type, label=label, created_at=now_iso()
    )
    try:
        item.save(condition=FieldItem.pk.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise Conflict(f"field {name!r} already exists", [{"path": "/name", "message": "exists"}]) from exc
        raise
    rules_version.bump(tenant)
    return _record(item)
