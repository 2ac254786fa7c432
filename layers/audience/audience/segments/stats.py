"""Segment statistics (GET /segments/{id}/stats): size now, added/removed per day from the history
the evaluator and static changes write, and the campaigns that use it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from audience.errors import ValidationFailed
from audience.storage import campaigns_repo, history_repo, segments_repo
from audience.storage.base import now_iso

DEFAULT_DAYS = 30
MAX_DAYS = 366


def segment_stats(
    tenant: str, segment_id: str, *, date_from: str | None = None, date_to: str | None = None
) -> dict[str, Any]:
    segment = segments_repo.get(tenant, segment_id)
    end = _date(date_to, "/to") if date_to else datetime.now(UTC).date()
    start = _date(date_from, "/from") if date_from else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed("invalid range", [{"path": "/from", "message": "must not be after 'to'"}])
    if (end - start).days >= MAX_DAYS:
        raise ValidationFailed("invalid range", [{"path": "/from", "message": f"at most {MAX_DAYS} days"}])
    days = history_repo.range(tenant, segment_id, start.isoformat(), end.isoformat())
    now = now_iso()
    campaigns = campaigns_repo.using_segment(tenant, segment_id)
    return {
        "segment_id": segment_id,
        "total": segment.member_count,
        "last_evaluated_at": segment.last_evaluated_at,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": [d.model_dump() for d in days],
        "added": sum(d.added for d in days),
        "removed": sum(d.removed for d in days),
        "active_campaigns": [{"id": c.id, "name": c.name, "status": c.status} for c in campaigns if c.is_live(now)],
        "campaigns_participated": [
            {"id": c.id, "name": c.name, "status": c.status} for c in campaigns if c.status != "draft"
        ],
    }


def _date(text: str, path: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed("invalid date", [{"path": path, "message": "a date like 2024-05-31"}]) from exc
