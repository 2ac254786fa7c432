"""Freeze a segment's current members into a new static segment (POST /segments/{id}/save-as-list)."""

from __future__ import annotations

from audience.segments.create import create_segment
from audience.segments.inputs import SaveAsListRequest, SegmentDraft
from audience.segments.placement import place
from audience.storage import memberships_repo, segments_repo
from audience.storage.records import Segment


def save_as_list(tenant: str, segment_id: str, request: SaveAsListRequest) -> Segment:
    source = segments_repo.get(tenant, segment_id)
    draft = SegmentDraft(
        name=request.name,
        description=request.description if request.description is not None else f"Members of {source.name}",
        type="static",
        category=request.category,
        public=request.public,
        topics=request.topics,
    )
    frozen = create_segment(tenant, draft)
    members = list(memberships_repo.iter_members(tenant, segment_id))
    if members:
        place(tenant, frozen, members, source="static")
    return segments_repo.get(tenant, frozen.id)
