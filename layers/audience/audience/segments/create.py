"""Create a segment (POST /segments)."""

from __future__ import annotations

from audience.segments.definition import check_definition
from audience.segments.inputs import SegmentDraft
from audience.storage import segments_repo
from audience.storage.records import Segment


def create_segment(tenant: str, draft: SegmentDraft) -> Segment:
    references = check_definition(tenant, segment_type=draft.type, rules=draft.rules, category=draft.category)
    return segments_repo.create(
        tenant,
        name=draft.name,
        type=draft.type,
        rules=draft.rules,
        description=draft.description,
        category=draft.category,
        priority=draft.priority,
        public=draft.public,
        topics=draft.topics,
        ignore_suppression=draft.ignore_suppression,
        references=references,
    )
