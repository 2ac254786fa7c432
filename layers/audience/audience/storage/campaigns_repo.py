"""Minimal campaigns (MainTable ``T#{tenant}`` / ``CAMP#{id}``): enough for stats, uses and
delete protection. A tenant has few campaigns, so "campaigns using segment X" is one Query over
the tenant's campaigns filtered in code."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from audience.errors import NotFound, PreconditionFailed
from audience.storage.base import new_id, now_iso
from audience.storage.models import CampaignItem, tenant_pk
from audience.storage.paging import check_start_key, collect, condition_failed
from audience.storage.records import Campaign, Page

PREFIX = "CAMP#"
EDITABLE = ("name", "segment_ids", "start_at", "end_at", "status")


def _record(item: CampaignItem) -> Campaign:
    return Campaign(
        id=item.campaign_id,
        name=item.name,
        segment_ids=list(item.segment_ids or []),
        start_at=item.start_at,
        end_at=item.end_at,
        status=item.status,
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version or 0),
    )


def create(
    tenant: str,
    *,
    name: str,
    segment_ids: list[str],
    start_at: str | None = None,
    end_at: str | None = None,
    status: str = "draft",
) -> Campaign:
    stamp = now_iso()
    campaign_id = new_id()
    item = CampaignItem(
        tenant_pk(tenant),
        PREFIX + campaign_id,
        campaign_id=campaign_id,
        name=name,
        segment_ids=list(dict.fromkeys(segment_ids)),
        start_at=start_at,
        end_at=end_at,
        status=status,
        created_at=stamp,
        updated_at=stamp,
    )
    item.save()
    return _record(item)


def find(tenant: str, campaign_id: str) -> Campaign | None:
    try:
        return _record(CampaignItem.get(tenant_pk(tenant), PREFIX + campaign_id, consistent_read=True))
    except DoesNotExist:
        return None


def get(tenant: str, campaign_id: str) -> Campaign:
    campaign = find(tenant, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id!r} not found")
    return campaign


def list_all(tenant: str) -> list[Campaign]:
    items = CampaignItem.query(tenant_pk(tenant), CampaignItem.sk.startswith(PREFIX), consistent_read=True)
    return [_record(item) for item in items]


def list_page(tenant: str, limit: int = 50, start_key: dict[str, Any] | None = None) -> Page:
    pk = tenant_pk(tenant)
    items = CampaignItem.query(
        pk, CampaignItem.sk.startswith(PREFIX), last_evaluated_key=check_start_key(start_key, pk, PREFIX)
    )
    return collect(items, limit, key_of=lambda i: {"pk": i.pk, "sk": i.sk}, convert=_record)


def using_segment(tenant: str, segment_id: str) -> list[Campaign]:
    return [c for c in list_all(tenant) if segment_id in c.segment_ids]


def update(tenant: str, campaign_id: str, changes: dict[str, Any], *, expected_version: int | None = None) -> Campaign:
    """Apply ``changes`` (names from EDITABLE); with ``expected_version`` the write is conditional."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    current = get(tenant, campaign_id)
    version = expected_version if expected_version is not None else current.version
    item = CampaignItem(tenant_pk(tenant), PREFIX + campaign_id, version=version)
    actions = [CampaignItem.updated_at.set(now_iso())]
    for name, value in changes.items():
        attribute = getattr(CampaignItem, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    try:
        item.update(actions=actions, condition=CampaignItem.pk.exists())
    except UpdateError as exc:
        if condition_failed(exc):
            latest = get(tenant, campaign_id)
            raise PreconditionFailed(
                f"campaign {campaign_id!r} is at version {latest.version}, not {version}",
                [{"path": "If-Match", "message": f"current version is {latest.version}"}],
            ) from exc
        raise
    return _record(item)
