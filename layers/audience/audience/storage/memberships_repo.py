"""Segment memberships in MembershipsTable (``pk = {tenant}#{segment}``, ``sk = contact_id``).

GSI ``by_contact`` (``gsi1pk = {tenant}#{contact}``, ``gsi1sk = segment_id``) answers "which
segments is this contact in", used by category exclusivity, erasure and ``GET /contacts/{id}/segments``.
Memberships carry no version: a membership either exists or not, so batch writes are safe here.

A dynamic membership written by ``add_many`` (a run's, by far the most) stores no ``source``: its
absence reads as ``"dynamic"`` (``_to_record``); memberships written before and the contact stream's
store it; every other source is stored. A first run writes one membership per member, and each attribute an item
carries is parsed, stored and answered on every write and read of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

from audience.storage import batch, membership_history_repo
from audience.storage.base import now_iso
from audience.storage.membership_history_repo import Cause
from audience.storage.models import MembershipItem, by_contact_pk, membership_pk
from audience.storage.paging import check_start_key, chunks, collect
from audience.storage.records import Membership, Page

DYNAMIC = "dynamic"  # the source a membership without one has
BATCH_GET_SIZE = 100
PURGE_PAGE = 1000  # keys deleted per round of parallel batch writes


def _to_record(item: MembershipItem) -> Membership:
    return Membership(
        segment_id=item.gsi1sk,
        contact_id=item.sk,
        source=item.source or DYNAMIC,  # not stored for dynamic memberships (module docstring)
        category=item.category,
        added_at=item.added_at,
    )


def _item(tenant: str, segment_id: str, contact_id: str, source: str, category: str | None, stamp: str,
          *, lean: bool = False):
    """A membership as ``MembershipItem`` stores it (its attribute map): a run writes thousands.
    ``lean``: a dynamic one without its ``source`` (module docstring), as ``add_many`` writes them; the
    contact stream's writers (``realtime.batched``) still store it, as ``StampedMembership`` does."""
    item = {
        "pk": {"S": membership_pk(tenant, segment_id)},
        "sk": {"S": contact_id},
        "gsi1pk": {"S": by_contact_pk(tenant, contact_id)},
        "gsi1sk": {"S": segment_id},
        "added_at": {"S": stamp},
    }
    if not lean or source != DYNAMIC:
        item["source"] = {"S": source}
    if category is not None:
        item["category"] = {"S": category}
    return item


def add_many(
    tenant: str,
    segment_id: str,
    contact_ids: Iterable[str],
    *,
    source: str = "static",
    category: str | None = None,
    history: Cause | None = None,
) -> int:
    """Put one membership per distinct id (re-adding refreshes ``added_at``); returns how many.

    ``history``: the ids are new members, and each gets a ``joined`` entry of that cause in the same
    batched requests.

    The items are built as the batch writer takes them (a first run hands over tens of thousands of
    ids: ``batch.write``), not all before the first request."""
    stamp = now_iso()
    ids = list(dict.fromkeys(contact_ids))
    puts: Iterable[dict[str, Any]] = (_item(tenant, segment_id, c, source, category, stamp, lean=True) for c in ids)
    if history is not None:
        puts = chain(puts, membership_history_repo.iter_entries(tenant, segment_id, ids, "joined", history))
    batch.write(MembershipItem, puts=puts)
    return len(ids)


def remove_many(tenant: str, segment_id: str, contact_ids: Iterable[str], *, history: Cause | None = None) -> int:
    """Delete the memberships of these ids (absent ones are a no-op); returns how many requested.

    ``history``: the ids are members, and each gets a ``left`` entry in the same batched requests."""
    pk = membership_pk(tenant, segment_id)
    ids = list(dict.fromkeys(contact_ids))
    keys = ({"pk": pk, "sk": c} for c in ids)
    puts = membership_history_repo.iter_entries(tenant, segment_id, ids, "left", history) if history else ()
    batch.write(MembershipItem, puts=puts, delete_keys=keys)
    return len(ids)


def existing(tenant: str, segment_id: str, contact_ids: Iterable[str], *, consistent: bool = False) -> set[str]:
    """Which of ``contact_ids`` are members now (BatchGet, keys only; ``consistent`` reads)."""
    pk = membership_pk(tenant, segment_id)
    found: set[str] = set()
    for chunk in chunks(list(dict.fromkeys(contact_ids)), BATCH_GET_SIZE):
        keys = [(pk, c) for c in chunk]
        for item in MembershipItem.batch_get(keys, consistent_read=consistent, attributes_to_get=["pk", "sk"]):
            found.add(item.sk)
    return found


def list_segment(tenant: str, segment_id: str, limit: int = 50, start_key: dict[str, Any] | None = None) -> Page:
    """A page of a segment's memberships in contact-id order."""
    pk = membership_pk(tenant, segment_id)
    items = MembershipItem.query(pk, last_evaluated_key=check_start_key(start_key, pk), page_size=limit + 1)
    return collect(items, limit, key_of=lambda i: {"pk": i.pk, "sk": i.sk}, convert=_to_record)


def iter_segment(tenant: str, segment_id: str, after_contact_id: str | None = None) -> Iterator[Membership]:
    """Every membership of the segment in contact-id order, resuming after ``after_contact_id``
    (DynamoDB Query pages of up to 1 MB; for jobs that walk a whole segment)."""
    pk = membership_pk(tenant, segment_id)
    start = {"pk": {"S": pk}, "sk": {"S": after_contact_id}} if after_contact_id else None
    for item in MembershipItem.query(pk, last_evaluated_key=start):
        yield _to_record(item)


def iter_segment_ids(
    tenant: str, segment_id: str, after_contact_id: str | None = None, *, with_added_at: bool = False
) -> Iterator[tuple[str, str | None]]:
    """``(contact_id, added_at)`` of every membership in contact-id order, resuming after
    ``after_contact_id``; ``added_at`` is None unless ``with_added_at``. The Query projects only
    those attributes: pages still end at 1 MB of whole items, but each answer carries one or two
    values per member instead of six (on in-process moto, serialising them is most of a page's cost)."""
    pk = membership_pk(tenant, segment_id)
    start = {"pk": {"S": pk}, "sk": {"S": after_contact_id}} if after_contact_id else None
    attributes = ["sk", "added_at"] if with_added_at else ["sk"]
    for item in MembershipItem.query(pk, last_evaluated_key=start, attributes_to_get=attributes):
        yield item.sk, (item.added_at if with_added_at else None)


def iter_members(tenant: str, segment_id: str) -> Iterator[str]:
    """Every member's contact id (paged Query, keys only)."""
    for item in MembershipItem.query(membership_pk(tenant, segment_id), attributes_to_get=["pk", "sk"]):
        yield item.sk


def count(tenant: str, segment_id: str) -> int:
    return MembershipItem.count(membership_pk(tenant, segment_id), consistent_read=True)


def segments_of(tenant: str, contact_id: str) -> list[Membership]:
    """Every membership of one contact (GSI by_contact; eventually consistent)."""
    return [_to_record(item) for item in MembershipItem.by_contact.query(by_contact_pk(tenant, contact_id))]


def remove_all(tenant: str, segment_id: str, *, history: Cause | None = None) -> int:
    """Empty a segment (contacts are kept); returns how many memberships were deleted.
    ``history``: each removal gets a ``left`` entry of that cause."""
    removed = 0
    page: list[str] = []
    for contact_id in iter_members(tenant, segment_id):
        page.append(contact_id)
        if len(page) >= PURGE_PAGE:
            removed += remove_many(tenant, segment_id, page, history=history)
            page = []
    if page:
        removed += remove_many(tenant, segment_id, page, history=history)
    return removed


def remove_contact(tenant: str, contact_id: str) -> list[str]:
    """Delete every membership of one contact; returns the segment ids it was removed from."""
    memberships = segments_of(tenant, contact_id)
    batch.write(
        MembershipItem,
        delete_keys=[{"pk": membership_pk(tenant, m.segment_id), "sk": contact_id} for m in memberships],
    )
    return [m.segment_id for m in memberships]


def set_category(tenant: str, segment_id: str, category: str | None) -> int:
    """Rewrite the category copied onto every membership of a segment (after the segment's
    category changed), so category checks on the by_contact index stay true. Returns how many."""
    pk = membership_pk(tenant, segment_id)
    rewritten = 0
    page: list[MembershipItem] = []
    for item in MembershipItem.query(pk):
        item.category = category
        page.append(item)
        if len(page) >= PURGE_PAGE:
            rewritten += batch.write(MembershipItem, puts=page)
            page = []
    if page:
        rewritten += batch.write(MembershipItem, puts=page)
    return rewritten
