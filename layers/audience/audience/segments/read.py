"""Read one segment or a filtered page of them (GET /segments, GET /segments/{id})."""

from __future__ import annotations

from typing import Any

from audience.storage import segments_repo
from audience.storage.records import Page, Segment


def get_segment(tenant: str, segment_id: str) -> Segment:
    return segments_repo.get(tenant, segment_id)


def list_segments(
    tenant: str,
    *,
    category: str | None = None,
    segment_type: str | None = None,
    public: bool | None = None,
    q: str | None = None,
    limit: int = 50,
    start_key: dict[str, Any] | None = None,
) -> Page:
    return segments_repo.list_page(
        tenant, category=category, type=segment_type, public=public, q=q, limit=limit, start_key=start_key
    )
