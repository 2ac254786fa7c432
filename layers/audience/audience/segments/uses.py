"""Who uses a segment (GET /segments/{id}/uses): segments whose rules reference it and campaigns
that target it (``live`` ones block deletion)."""

from __future__ import annotations

from typing import Any

from audience.storage import campaigns_repo, segments_repo
from audience.storage.base import now_iso


def segment_uses(tenant: str, segment_id: str) -> dict[str, list[dict[str, Any]]]:
    segments_repo.get(tenant, segment_id)
    referencing = [
        {"id": s.id, "name": s.name}
        for s in segments_repo.all_segments(tenant)
        if segment_id in s.references and s.id != segment_id
    ]
    now = now_iso()
    campaigns = [
        {"id": c.id, "name": c.name, "status": c.status, "live": c.is_live(now)}
        for c in campaigns_repo.using_segment(tenant, segment_id)
    ]
    return {"segments": referencing, "campaigns": campaigns}
