"""The tenant's suppression settings (MainTable ``T#{tenant}`` / ``SETTINGS#suppression``).

Stored as one versioned document; its shape (rules, global suppression threshold) is validated by
the caller, so storage does not need to change when the settings grow.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from audience.errors import PreconditionFailed
from audience.storage import rules_version
from audience.storage.base import now_iso, versioned
from audience.storage.models import SuppressionItem, tenant_pk
from audience.storage.paging import condition_failed
from audience.storage.records import SuppressionSettings

SK = "SETTINGS#suppression"


def get(tenant: str) -> SuppressionSettings:
    """The stored settings, or empty settings at version 0 when none were ever saved."""
    try:
        item = SuppressionItem.get(tenant_pk(tenant), SK, consistent_read=True)
    except DoesNotExist:
        return SuppressionSettings()
    return SuppressionSettings(document=dict(item.document), updated_at=item.updated_at, version=int(item.version))


def put(tenant: str, document: dict[str, Any], *, expected_version: int | None = None) -> SuppressionSettings:
    """Replace the settings; with ``expected_version`` (0 = never saved) the write is conditional."""
    version = expected_version or None
    if expected_version is None:
        version = get(tenant).version or None
    stamp = now_iso()
    item = SuppressionItem(tenant_pk(tenant), SK, document=document, updated_at=stamp, **versioned(version))
    try:
        item.save()
    except PutError as exc:
        if condition_failed(exc):
            current = get(tenant).version
            raise PreconditionFailed(
                f"suppression settings are at version {current}, not {expected_version or 0}",
                [{"path": "If-Match", "message": f"current version is {current}"}],
            ) from exc
        raise
    rules_version.bump(tenant)
    return SuppressionSettings(document=document, updated_at=item.updated_at, version=int(item.version))
