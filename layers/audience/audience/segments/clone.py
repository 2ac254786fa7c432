"""Copy a segment under a new name (POST /segments/{id}/clone); any definition field may change.

A static copy gets the source's members. It leaves the source's category unless one is given,
since two static segments of one category cannot share contacts (copying into the same category
would empty the source).
"""

from __future__ import annotations

from audience.segments.create import create_segment
from audience.segments.inputs import CloneRequest, SegmentDraft
from audience.segments.placement import place
from audience.storage import memberships_repo, segments_repo
from audience.storage.records import Segment


def clone_segment(tenant: str, segment_id: str, request: CloneRequest) -> Segment:
    source = segments_repo.get(tenant, segment_id)
    given = request.model_fields_set
    default_category = source.category if source.type == "dynamic" else None
    draft = SegmentDraft(
        name=request.name,
        description=request.description if "description" in given else source.description,
        type=source.type,
        rules=request.rules if "rules" in given else source.rules,
        category=request.category if "category" in given else default_category,
        priority=request.priority if request.priority is not None else source.priority,
        public=request.public if request.public is not None else source.public,
        topics=request.topics if request.topics is not None else source.topics,
        ignore_suppression=source.ignore_suppression,
    )
    copy = create_segment(tenant, draft)
    if source.type == "static":
        members = list(memberships_repo.iter_members(tenant, segment_id))
        if members:
            place(tenant, copy, members, source="static")
        copy = segments_repo.get(tenant, copy.id)
    return copy
