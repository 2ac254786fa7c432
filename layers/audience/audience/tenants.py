"""Tenant and API-key administration, and the one question the authorizer asks: who is this key?

Keys look like ``sk_{tenant}_{secret}`` and are stored only as their SHA-256 (see
``storage.tenants_repo``): the tenant part tells the authorizer which partition to read, the hash
proves the key. Scopes: ``read`` may only GET; ``write`` may do everything.

Imports stay light (no pyarrow): the authorizer's cold start pays for everything imported here.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from audience.errors import Conflict, ValidationFailed
from audience.storage import tenants_repo

SCOPES = tenants_repo.ALL_SCOPES
READ_METHODS = frozenset({"GET"})
MAX_NAME_CHARS = 200
CREATE_ATTEMPTS = 5


@dataclass(frozen=True)
class Authorization:
    """What a presented key may do for one request."""

    tenant_id: str
    scopes: tuple[str, ...]
    allowed: bool


def _slug(name: str) -> str:
    """A readable tenant-id prefix from a display name ("Acme GmbH" -> "acme-gmbh")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")
    return (slug or "tenant")[:40].strip("-") or "tenant"


def normalise_scopes(scopes: Iterable[str] | str) -> tuple[str, ...]:
    """Scopes from a list or a comma-separated string, validated, in canonical order."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    wanted = {s.strip().lower() for s in items if s and s.strip()}
    unknown = wanted - set(SCOPES)
    if unknown or not wanted:
        raise ValidationFailed(
            "scopes must be a non-empty subset of " + ", ".join(SCOPES),
            [{"path": "/scopes", "message": f"unknown: {sorted(unknown)}" if unknown else "empty"}],
        )
    return tuple(s for s in SCOPES if s in wanted)


def create_tenant(
    name: str, *, tenant_id: str | None = None, default_region: str | None = None
) -> tuple[str, str]:
    """Create a tenant and its first read+write key; returns ``(tenant_id, api_key)``.

    Without ``tenant_id`` one is derived from the name plus a random suffix. The key is shown only
    here: only its hash is stored.
    """
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValidationFailed(
            "a tenant needs a name", [{"path": "/name", "message": f"1-{MAX_NAME_CHARS} characters"}]
        )
    if tenant_id is not None and not tenants_repo.TENANT_ID.match(tenant_id):
        raise ValidationFailed(
            "invalid tenant id",
            [{"path": "/tenant_id", "message": "2-63 lower-case letters, digits or '-'"}],
        )
    for _ in range(CREATE_ATTEMPTS):
        candidate = tenant_id or f"{_slug(name)}-{secrets.token_hex(3)}"
        try:
            tenants_repo.create_tenant(candidate, name, default_region=default_region)
        except Conflict:
            if tenant_id is not None:
                raise
            continue
        return candidate, create_api_key(candidate, SCOPES)
    raise Conflict("could not find a free tenant id; try again")


def create_api_key(tenant_id: str, scopes: Iterable[str] | str = SCOPES, *, name: str | None = None) -> str:
    """A new key for an existing tenant, returned in clear (the only time it is visible)."""
    if tenants_repo.get_tenant(tenant_id) is None:
        raise ValidationFailed("no such tenant", [{"path": "/tenant_id", "message": "not found"}])
    return tenants_repo.issue_key(tenant_id, normalise_scopes(scopes), name=name)


def resolve_api_key(api_key: str | None) -> tuple[str, tuple[str, ...]] | None:
    """``(tenant_id, scopes)`` for a valid, unrevoked key; None for anything else."""
    if not api_key:
        return None
    grant = tenants_repo.grant_of_key(api_key.strip())
    if grant is None:
        return None
    tenant_id, scopes = grant
    return tenant_id, tuple(s for s in SCOPES if s in scopes)


def may_call(scopes: Iterable[str], http_method: str) -> bool:
    """``write`` may call anything; ``read`` only GET."""
    scopes = set(scopes)
    return "write" in scopes or ("read" in scopes and http_method.upper() in READ_METHODS)


def authorize(api_key: str | None, http_method: str) -> Authorization | None:
    """None when the key is missing or unknown (401); otherwise whether this method is allowed (403)."""
    resolved = resolve_api_key(api_key)
    if resolved is None:
        return None
    tenant_id, scopes = resolved
    return Authorization(tenant_id=tenant_id, scopes=scopes, allowed=may_call(scopes, http_method))
