"""Adding imported contacts to the job's static segment, under category rules: a contact is in at
most one segment of a category, so joining a static segment of category C removes it from the
other segments of C (SPEC §1). Counts and the per-day history follow."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from audience.imports.errors import ImportFileError
from audience.storage import history_repo, memberships_repo, segments_repo
from audience.storage.records import Segment


def load_static_segment(tenant_id: str, segment_id: str) -> Segment:
    segment = segments_repo.find(tenant_id, segment_id)
    if segment is None:
        raise ImportFileError("invalid_segment", f"segment {segment_id} does not exist")
    if segment.type != "static":
        raise ImportFileError(
            "invalid_segment", f"segment {segment_id} is dynamic; imports add to static segments"
        )
    return segment


def add_to_static_segment(tenant_id: str, segment: Segment, contact_ids: list[str]) -> int:
    """Make ``contact_ids`` members (source ``import``); returns how many were not members before."""
    ids = list(dict.fromkeys(contact_ids))
    removed: dict[str, list[str]] = defaultdict(list)
    if segment.category:
        for contact_id in ids:
            for membership in memberships_repo.segments_of(tenant_id, contact_id):
                if membership.category == segment.category and membership.segment_id != segment.id:
                    removed[membership.segment_id].append(contact_id)
    for other, members in removed.items():
        memberships_repo.remove_many(tenant_id, other, members)
    new = [c for c in ids if c not in memberships_repo.existing(tenant_id, segment.id, ids)]
    memberships_repo.add_many(tenant_id, segment.id, new, source="import", category=segment.category)
    today = datetime.now(UTC).date().isoformat()
    for segment_id, added, gone in [(segment.id, len(new), 0)] + [(s, 0, len(m)) for s, m in removed.items()]:
        total = memberships_repo.count(tenant_id, segment_id)
        segments_repo.set_member_count(tenant_id, segment_id, total)
        history_repo.add_day(tenant_id, segment_id, today, added, gone, total)
    return len(new)
