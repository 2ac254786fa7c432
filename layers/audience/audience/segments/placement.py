"""Putting contacts into a static segment under category rules (SPEC §1): a contact is in at most
one segment of a category, so joining a static segment of category C removes it from the other
segments of C. Member counts and the per-day history follow every change."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from audience.storage import history_repo, memberships_repo, segments_repo
from audience.storage.membership_history_repo import SOURCE_OF_MEMBERSHIP, Cause
from audience.storage.records import Segment


def place(tenant: str, segment: Segment, contact_ids: Iterable[str], *, source: str = "static") -> dict[str, int]:
    """Make ``contact_ids`` members of static ``segment``; returns ``{"added", "moved", "member_count"}``.

    ``moved`` counts contacts taken out of other segments of the same category. Every change is
    recorded in the membership history with the cause ``source`` stands for (api, import, transfer).
    """
    ids = list(dict.fromkeys(contact_ids))
    cause = Cause(SOURCE_OF_MEMBERSHIP.get(source, "api"))  # type: ignore[arg-type]
    moved = 0
    for other, present in _displaced(tenant, segment, ids).items():
        memberships_repo.remove_many(tenant, other, present, history=cause)
        record_change(tenant, other, removed=len(present))
        moved += len(present)
    already = memberships_repo.existing(tenant, segment.id, ids)
    new = [c for c in ids if c not in already]
    memberships_repo.add_many(tenant, segment.id, new, source=source, category=segment.category, history=cause)
    total = record_change(tenant, segment.id, added=len(new))
    return {"added": len(new), "moved": moved, "member_count": total}


def _displaced(tenant: str, segment: Segment, ids: list[str]) -> dict[str, set[str]]:
    """Which of ``ids`` are members of the other segments of ``segment``'s category, by segment,
    as the memberships table says now.

    Two ways to ask, the cheaper one taken: each contact's memberships through the by-contact index
    (one Query per contact; the index may lag, so its answer is confirmed on the table), or each
    other segment of the category checked for all the ids at once (BatchGets of 100 keys). An import
    of thousands into a category of a few segments takes the second; adding one contact, the first.
    """
    if not segment.category or not ids:
        return {}
    others = [s.id for s in segments_repo.all_segments(tenant) if s.category == segment.category and s.id != segment.id]
    batch_gets = len(others) * -(-len(ids) // memberships_repo.BATCH_GET_SIZE)
    if batch_gets < len(ids):
        candidates = {other: ids for other in others}
    else:
        by_index: dict[str, list[str]] = defaultdict(list)
        for contact_id in ids:
            for membership in memberships_repo.segments_of(tenant, contact_id):
                if membership.category == segment.category and membership.segment_id != segment.id:
                    by_index[membership.segment_id].append(contact_id)
        candidates = by_index
    found = {other: memberships_repo.existing(tenant, other, members) for other, members in candidates.items()}
    return {other: present for other, present in found.items() if present}


def remove(tenant: str, segment: Segment, contact_ids: Iterable[str], *, source: str = "api") -> int:
    """Take ``contact_ids`` out of the segment (contacts are kept); returns how many were members.
    ``source``: the history's cause (``api``, ``transfer``)."""
    ids = list(dict.fromkeys(contact_ids))
    present = memberships_repo.existing(tenant, segment.id, ids)
    memberships_repo.remove_many(tenant, segment.id, [c for c in ids if c in present],
                                 history=Cause(source))  # type: ignore[arg-type]
    record_change(tenant, segment.id, removed=len(present))
    return len(present)


def remove_everyone(tenant: str, segment: Segment) -> int:
    removed = memberships_repo.remove_all(tenant, segment.id, history=Cause("api"))
    record_change(tenant, segment.id, removed=removed)
    return removed


def record_change(tenant: str, segment_id: str, *, added: int = 0, removed: int = 0, day: str | None = None) -> int:
    """Apply the change to the stored member count and the history of ``day`` (today's UTC date
    unless given: a caller counting a batch on one day passes it); returns the new total.

    The count moves by the exact number of memberships written or deleted (each checked against the
    table first), so large lists are never recounted.
    """
    if not added and not removed:
        return segments_repo.get(tenant, segment_id).member_count
    total = segments_repo.adjust_member_count(tenant, segment_id, added - removed)
    if total is None:
        return 0
    history_repo.add_day(tenant, segment_id, day or datetime.now(UTC).date().isoformat(), added, removed, total)
    return total
