"""The job's target segment: it must be static; imported contacts join it through the segments
module's category placement (joining a static segment of category C leaves the other segments of
C; counts and history follow), with source ``import``."""

from __future__ import annotations

from audience.imports.errors import ImportFileError
from audience.segments.placement import place
from audience.storage import segments_repo
from audience.storage.records import Segment


def load_static_segment(tenant_id: str, segment_id: str) -> Segment:
    segment = segments_repo.find(tenant_id, segment_id)
    if segment is None:
        raise ImportFileError("invalid_segment", f"segment {segment_id} does not exist")
    if segment.type != "static":
        raise ImportFileError("invalid_segment", f"segment {segment_id} is dynamic; imports add to static segments")
    return segment


def add_to_static_segment(tenant_id: str, segment: Segment, contact_ids: list[str]) -> int:
    """Make ``contact_ids`` members; returns how many were not members before."""
    return place(tenant_id, segment, contact_ids, source="import")["added"]
