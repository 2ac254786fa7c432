"""Putting contacts into a static segment under category rules (SPEC §1): a contact is in at most
one segment of a category, so joining a static segment of category C removes it from the other
segments of C. Member counts and the per-day history follow every change."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from audience.storage import history_repo, memberships_repo, segments_repo
from audience.storage.records import Segment


def place(tenant: str, segment: Segment, contact_ids: Iterable[str], *, source: str = "static") -> dict[str, int]:
    """Make ``contact_ids`` members of static ``segment``; returns ``{"added", "moved", "member_count"}``.

    ``moved`` counts contacts taken out of other segments of the same category.
    """
    ids = list(dict.fromkeys(contact_ids))
    displaced: dict[str, list[str]] = defaultdict(list)
    if segment.category:
        for contact_id in ids:
            for membership in memberships_repo.segments_of(tenant, contact_id):
                if membership.category == segment.category and membership.segment_id != segment.id:
                    displaced[membership.segment_id].append(contact_id)
    moved = 0
    for other, members in displaced.items():
        present = memberships_repo.existing(tenant, other, members)  # the index may lag behind
        memberships_repo.remove_many(tenant, other, present)
        record_change(tenant, other, removed=len(present))
        moved += len(present)
    already = memberships_repo.existing(tenant, segment.id, ids)
    new = [c for c in ids if c not in already]
    memberships_repo.add_many(tenant, segment.id, new, source=source, category=segment.category)
    total = record_change(tenant, segment.id, added=len(new))
    return {"added": len(new), "moved": moved, "member_count": total}


def remove(tenant: str, segment: Segment, contact_ids: Iterable[str]) -> int:
    """Take ``contact_ids`` out of the segment (contacts are kept); returns how many were members."""
    ids = list(dict.fromkeys(contact_ids))
    present = memberships_repo.existing(tenant, segment.id, ids)
    memberships_repo.remove_many(tenant, segment.id, [c for c in ids if c in present])
    record_change(tenant, segment.id, removed=len(present))
    return len(present)


def remove_everyone(tenant: str, segment: Segment) -> int:
    removed = memberships_repo.remove_all(tenant, segment.id)
    record_change(tenant, segment.id, removed=removed)
    return removed


def record_change(tenant: str, segment_id: str, *, added: int = 0, removed: int = 0) -> int:
    """Apply the change to the stored member count and today's history; returns the new total.

    The count moves by the exact number of memberships written or deleted (each checked against the
    table first), so large lists are never recounted.
    """
    if not added and not removed:
        return segments_repo.get(tenant, segment_id).member_count
    total = segments_repo.adjust_member_count(tenant, segment_id, added - removed)
    if total is None:
        return 0
    history_repo.add_day(tenant, segment_id, datetime.now(UTC).date().isoformat(), added, removed, total)
    return total
