"""Event batches' status and the event log's settings (MainTable ``T#{tenant}``).

``EVBATCH#{batch_id}``: created ``pending`` by POST /events before the batch is staged, finished by
the importer (``ingested`` or ``failed``, with counts and the first MAX_ERRORS errors); an event
file's record is created by the importer under the file's object key. A batch record expires
BATCH_RECORD_DAYS after it was last written (MainTable's TTL; until DynamoDB removes it, `find`
already answers None). ``SETTINGS#events``: the retention in days (DEFAULT_RETENTION_DAYS when never
set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from audience.storage.base import now_iso
from audience.storage.models import EventBatchItem, EventSettingsItem, tenant_pk

BATCH_PREFIX = "EVBATCH#"
SETTINGS_SK = "SETTINGS#events"
DEFAULT_RETENTION_DAYS = 400
MAX_ERRORS = 100
BATCH_RECORD_DAYS = 30  # a batch's status can be asked for this long (SQS redelivers within 14 days)


@dataclass
class EventBatch:
    batch_id: str
    status: str
    accepted: int
    ingested: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    source: str = "api"

    def view(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "status": self.status, "accepted": self.accepted,
                "ingested": self.ingested, "rejected": self.rejected, "errors": list(self.errors)}


def _record(item: EventBatchItem) -> EventBatch:
    return EventBatch(item.batch_id, item.status, int(item.accepted), int(item.ingested), int(item.rejected),
                      list((item.errors or {}).get("errors", [])), item.source)


def create_pending(tenant: str, batch_id: str, accepted: int, *, source: str = "api") -> EventBatch:
    stamp = now_iso()
    EventBatchItem(tenant_pk(tenant), BATCH_PREFIX + batch_id, batch_id=batch_id, source=source, status="pending",
                   accepted=accepted, ingested=0, rejected=0, errors={"errors": []},
                   created_at=stamp, updated_at=stamp, ttl=_expiry()).save()
    return EventBatch(batch_id, "pending", accepted, source=source)


def finish(tenant: str, batch_id: str, *, status: str, accepted: int, ingested: int, rejected: int,
           errors: list[dict[str, Any]], source: str) -> EventBatch:
    """The batch's final record (a redelivery writes the same one again)."""
    stamp = now_iso()
    try:
        created = EventBatchItem.get(tenant_pk(tenant), BATCH_PREFIX + batch_id, consistent_read=True).created_at
    except DoesNotExist:
        created = stamp
    kept = errors[:MAX_ERRORS]
    EventBatchItem(tenant_pk(tenant), BATCH_PREFIX + batch_id, batch_id=batch_id, source=source, status=status,
                   accepted=accepted, ingested=ingested, rejected=rejected,
                   errors={"errors": kept, "truncated": len(errors) > len(kept)},
                   created_at=created, updated_at=stamp, ttl=_expiry()).save()
    return EventBatch(batch_id, status, accepted, ingested, rejected, kept, source)


def find(tenant: str, batch_id: str) -> EventBatch | None:
    try:
        item = EventBatchItem.get(tenant_pk(tenant), BATCH_PREFIX + batch_id, consistent_read=True)
    except DoesNotExist:
        return None
    if item.ttl is not None and item.ttl <= datetime.now(UTC):
        return None  # expired: DynamoDB deletes it within a day or two
    return _record(item)


def _expiry() -> datetime:
    return datetime.now(UTC) + timedelta(days=BATCH_RECORD_DAYS)


def retention_days(tenant: str) -> int:
    try:
        return int(EventSettingsItem.get(tenant_pk(tenant), SETTINGS_SK, consistent_read=True).retention_days)
    except DoesNotExist:
        return DEFAULT_RETENTION_DAYS


def put_retention_days(tenant: str, days: int) -> int:
    EventSettingsItem(tenant_pk(tenant), SETTINGS_SK, retention_days=days, updated_at=now_iso()).save()
    return days
