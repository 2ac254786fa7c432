"""Putting contacts into a static segment under category rules (SPEC §1): a contact is in at most
one segment of a category, so joining a static segment of category C removes it from the other
segments of C. Member counts and the per-day history follow every change."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from audience.storage import history_repo, memberships_repo, segments_repo
from audience.storage.records import Segment


def place(
    tenant: str, segment: Segment, contact_ids: Iterable[str], *, source: str = "static"
) -> dict[str, int]:
    """Make ``contact_ids`` members of static ``segment``; returns ``{"added", "moved"}``.

    ``moved`` counts contacts taken out of other segments of the same category.
    """
    ids = list(dict.fromkeys(contact_ids))
    displaced: dict[str, list[str]] = defaultdict(list)
    if segment.category:
        for contact_id in ids:
            for membership in memberships_repo.segments_of(tenant, contact_id):
                if membership.category == segment.category and membership.segment_id != segment.id:
                    displaced[membership.segment_id].append(contact_id)
    for other, members in displaced.items():
        memberships_repo.remove_many(tenant, other, members)
    already = memberships_repo.existing(tenant, segment.id, ids)
    new = [c for c in ids if c not in already]
    memberships_repo.add_many(tenant, segment.id, new, source=source, category=segment.category)
    record_change(tenant, segment.id, added=len(new))
    for other, members in displaced.items():
        record_change(tenant, other, removed=len(members))
    return {"added": len(new), "moved": sum(len(m) for m in displaced.values())}


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
    """Refresh the stored member count and add the change to today's history; returns the total."""
    total = memberships_repo.count(tenant, segment_id)
    segments_repo.set_member_count(tenant, segment_id, total)
    if added or removed:
        history_repo.add_day(tenant, segment_id, datetime.now(UTC).date().isoformat(), added, removed, total)
    return total
