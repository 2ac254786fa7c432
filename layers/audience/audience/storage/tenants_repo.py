"""Tenants and their API keys (MainTable ``T#{tenant}`` / ``TENANT`` and ``APIKEY#{sha256}``).

Only the SHA-256 of a key is stored. A key has the form ``sk_{tenant}_{secret}``, so the authorizer
knows the partition to look in without a global index.

The authorizer imports this module on every cold start and asks only ``grant_of_key``: the records
(pydantic, ~120 ms of CPU to import) are imported by the functions that hand them out, not here.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist, PutError

from audience.errors import Conflict
from audience.storage.base import now_iso
from audience.storage.models import ApiKeyItem, TenantItem, tenant_pk

if TYPE_CHECKING:
    from audience.storage.records import ApiKey, Tenant

TENANT_SK = "TENANT"
KEY_PREFIX = "APIKEY#"
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
API_KEY = re.compile(r"^sk_(?P<tenant>[a-z0-9][a-z0-9-]{1,62})_(?P<secret>[A-Za-z0-9_-]{20,128})$")
ALL_SCOPES = ("read", "write")
# One registry item per tenant (pk ``TENANTS``, sk ``T#{tenant}``): the evaluator lists every tenant
# with a Query of this partition instead of a Scan.
REGISTRY_PK = "TENANTS"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def tenant_of_key(raw_key: str) -> str | None:
    """The tenant a well-formed key names, or None for anything else."""
    match = API_KEY.match(raw_key or "")
    return match["tenant"] if match else None


def create_tenant(tenant_id: str, name: str, *, default_region: str | None = None) -> Tenant:
    from audience.storage.paging import condition_failed
    from audience.storage.records import Tenant

    if not TENANT_ID.match(tenant_id):
        raise ValueError("tenant ids are 2-63 lower-case letters, digits or '-'")
    item = TenantItem(
        tenant_pk(tenant_id),
        TENANT_SK,
        tenant_id=tenant_id,
        name=name,
        default_region=default_region,
        created_at=now_iso(),
    )
    try:
        item.save(condition=TenantItem.pk.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise Conflict(f"tenant {tenant_id!r} already exists") from exc
        raise
    TenantItem(
        REGISTRY_PK, tenant_pk(tenant_id), tenant_id=tenant_id, name=name, created_at=item.created_at
    ).save()
    return Tenant(tenant_id=tenant_id, name=name, default_region=default_region, created_at=item.created_at)


def list_tenant_ids() -> list[str]:
    """Every tenant's id (one Query of the registry partition)."""
    return [item.tenant_id for item in TenantItem.query(REGISTRY_PK)]


def get_tenant(tenant_id: str) -> Tenant | None:
    from audience.storage.records import Tenant

    try:
        item = TenantItem.get(tenant_pk(tenant_id), TENANT_SK)
    except DoesNotExist:
        return None
    return Tenant(
        tenant_id=item.tenant_id,
        name=item.name,
        default_region=item.default_region,
        created_at=item.created_at,
    )


def issue_key(tenant_id: str, scopes: tuple[str, ...] = ALL_SCOPES, name: str | None = None) -> str:
    """Create a new key for the tenant and return it in clear (the only time it is visible)."""
    unknown = set(scopes) - set(ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    raw = f"sk_{tenant_id}_{secrets.token_urlsafe(32)}"
    ApiKeyItem(
        tenant_pk(tenant_id),
        KEY_PREFIX + hash_key(raw),
        tenant_id=tenant_id,
        key_hash=hash_key(raw),
        scopes=list(scopes),
        name=name,
        created_at=now_iso(),
        revoked=False,
    ).save()
    return raw


def _live_key(raw_key: str) -> ApiKeyItem | None:
    """The stored item of a presented key, or None (malformed, unknown or revoked)."""
    tenant_id = tenant_of_key(raw_key)
    if tenant_id is None:
        return None
    try:
        item = ApiKeyItem.get(tenant_pk(tenant_id), KEY_PREFIX + hash_key(raw_key))
    except DoesNotExist:
        return None
    if item.revoked or item.tenant_id != tenant_id:
        return None
    return item


def grant_of_key(raw_key: str) -> tuple[str, list[str]] | None:
    """What a presented key grants, ``(tenant_id, scopes)``, or None: the authorizer's one read."""
    item = _live_key(raw_key)
    return None if item is None else (item.tenant_id, list(item.scopes))


def resolve_key(raw_key: str) -> ApiKey | None:
    """The stored key record for a presented key, or None (malformed, unknown or revoked)."""
    from audience.storage.records import ApiKey

    item = _live_key(raw_key)
    if item is None:
        return None
    return ApiKey(
        tenant_id=item.tenant_id,
        key_hash=item.key_hash,
        scopes=list(item.scopes),
        name=item.name,
        created_at=item.created_at,
        revoked=bool(item.revoked),
    )


def revoke_key(tenant_id: str, raw_key: str) -> bool:
    try:
        item = ApiKeyItem.get(tenant_pk(tenant_id), KEY_PREFIX + hash_key(raw_key))
    except DoesNotExist:
        return False
    item.update(actions=[ApiKeyItem.revoked.set(True)])
    return True
