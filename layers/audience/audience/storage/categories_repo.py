"""Categories (MainTable ``T#{tenant}`` / ``CAT#{name}``): named groups of mutually exclusive segments."""

from __future__ import annotations

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError

from audience.errors import Conflict, NotFound
from audience.storage.base import now_iso
from audience.storage.models import CategoryItem, tenant_pk
from audience.storage.paging import condition_failed
from audience.storage.records import Category

PREFIX = "CAT#"


def _record(item: CategoryItem) -> Category:
    return Category(name=item.name, description=item.description, created_at=item.created_at)


def create(tenant: str, name: str, description: str | None = None) -> Category:
    item = CategoryItem(tenant_pk(tenant), PREFIX + name, name=name, description=description, created_at=now_iso())
    try:
        item.save(condition=CategoryItem.pk.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise Conflict(f"category {name!r} already exists", [{"path": "/name", "message": "exists"}]) from exc
        raise
    return _record(item)


def find(tenant: str, name: str) -> Category | None:
    try:
        return _record(CategoryItem.get(tenant_pk(tenant), PREFIX + name, consistent_read=True))
    except DoesNotExist:
        return None


def get(tenant: str, name: str) -> Category:
    category = find(tenant, name)
    if category is None:
        raise NotFound(f"category {name!r} not found")
    return category


def list_all(tenant: str) -> list[Category]:
    items = CategoryItem.query(tenant_pk(tenant), CategoryItem.sk.startswith(PREFIX), consistent_read=True)
    return [_record(item) for item in items]


def delete(tenant: str, name: str) -> None:
    try:
        CategoryItem(tenant_pk(tenant), PREFIX + name).delete(condition=CategoryItem.pk.exists())
    except DeleteError as exc:
        if condition_failed(exc):
            raise NotFound(f"category {name!r} not found") from exc
        raise
