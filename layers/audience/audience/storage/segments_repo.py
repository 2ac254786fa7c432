"""Segments in MainTable (``pk = T#{tenant}``, ``sk = SEG#{id}``) with optimistic locking.

User writes are conditional on ``version`` (SPEC's If-Match) and bump it; evaluation results
(member_count, last_evaluated_at, status) are written without touching ``version``, so a running
evaluator never makes a user's If-Match stale, and a user's write never rolls back a count.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError

from audience.errors import NotFound, PreconditionFailed
from audience.storage import rules_version
from audience.storage.base import new_id, now_iso, versioned
from audience.storage.models import SegmentItem, tenant_pk
from audience.storage.paging import check_start_key, collect, condition_failed
from audience.storage.records import Page, Segment

PREFIX = "SEG#"
# Attributes a caller may change through PUT/PATCH; everything else belongs to the service.
EDITABLE = (
    "name",
    "description",
    "type",
    "rules",
    "category",
    "priority",
    "public",
    "topics",
    "ignore_suppression",
    "references",
)
_ATTRIBUTE_OF = {"type": "segment_type"}


def _sk(segment_id: str) -> str:
    return PREFIX + segment_id


def to_record(item: SegmentItem) -> Segment:
    return Segment(
        id=item.segment_id,
        name=item.name,
        description=item.description,
        type=item.segment_type,
        rules=item.rules,
        category=item.category,
        priority=int(item.priority or 0),
        public=bool(item.public),
        topics=list(item.topics or []),
        ignore_suppression=bool(item.ignore_suppression),
        member_count=int(item.member_count or 0),
        last_evaluated_at=item.last_evaluated_at,
        evaluation_status=item.evaluation_status,
        evaluation_error=item.evaluation_error,
        last_run=dict(item.last_run) if item.last_run else None,
        references=list(item.references or []),
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version or 0),
    )


MAX_ID_LENGTH = 200


def find(tenant: str, segment_id: str) -> Segment | None:
    if not 0 < len(segment_id) <= MAX_ID_LENGTH:
        return None  # cannot exist; DynamoDB would reject the key
    try:
        return to_record(SegmentItem.get(tenant_pk(tenant), _sk(segment_id), consistent_read=True))
    except DoesNotExist:
        return None


def get(tenant: str, segment_id: str) -> Segment:
    segment = find(tenant, segment_id)
    if segment is None:
        raise NotFound(f"segment {segment_id!r} not found")
    return segment


def get_many(tenant: str, segment_ids: Iterable[str]) -> dict[str, Segment]:
    """The existing ones among ``segment_ids`` (BatchGet), by id."""
    keys = [(tenant_pk(tenant), _sk(sid)) for sid in dict.fromkeys(segment_ids) if 0 < len(sid) <= MAX_ID_LENGTH]
    if not keys:
        return {}
    return {item.segment_id: to_record(item) for item in SegmentItem.batch_get(keys)}


def all_segments(tenant: str) -> list[Segment]:
    """Every segment of the tenant (one Query over its partition), oldest id order."""
    items = SegmentItem.query(tenant_pk(tenant), SegmentItem.sk.startswith(PREFIX), consistent_read=True)
    return [to_record(item) for item in items]


def list_page(
    tenant: str,
    *,
    category: str | None = None,
    type: str | None = None,
    public: bool | None = None,
    q: str | None = None,
    limit: int = 50,
    start_key: dict[str, Any] | None = None,
) -> Page:
    """A page of segments matching every given filter; ``q`` is a case-insensitive name substring."""
    pk = tenant_pk(tenant)
    needle = q.casefold() if q else None

    def keep(item: SegmentItem) -> bool:
        return (
            (category is None or item.category == category)
            and (type is None or item.segment_type == type)
            and (public is None or bool(item.public) == public)
            and (needle is None or needle in item.name.casefold())
        )

    items = SegmentItem.query(
        pk,
        SegmentItem.sk.startswith(PREFIX),
        last_evaluated_key=check_start_key(start_key, pk, PREFIX),
        page_size=max(limit, 100),
    )
    return collect(items, limit, key_of=lambda i: {"pk": i.pk, "sk": i.sk}, keep=keep, convert=to_record)


def create(
    tenant: str,
    *,
    name: str,
    type: str,
    rules: dict[str, Any] | None = None,
    description: str | None = None,
    category: str | None = None,
    priority: int = 0,
    public: bool = False,
    topics: list[str] | None = None,
    ignore_suppression: bool = False,
    references: list[str] | None = None,
    segment_id: str | None = None,
) -> Segment:
    """A new segment at version 1 (the write fails if the id already exists)."""
    stamp = now_iso()
    segment_id = segment_id or new_id()
    item = SegmentItem(
        tenant_pk(tenant),
        _sk(segment_id),
        segment_id=segment_id,
        name=name,
        description=description,
        segment_type=type,
        rules=rules,
        category=category,
        priority=priority,
        public=public,
        topics=list(topics or []),
        ignore_suppression=ignore_suppression,
        member_count=0,
        references=sorted(set(references or [])),
        created_at=stamp,
        updated_at=stamp,
    )
    item.save()
    rules_version.bump(tenant)
    return to_record(item)


def update(tenant: str, segment_id: str, changes: dict[str, Any], *, expected_version: int) -> Segment:
    """Apply ``changes`` (names from EDITABLE) if the stored version is ``expected_version``.

    Raises PreconditionFailed when the version moved (nothing written) and NotFound when the
    segment is gone.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    item = SegmentItem(tenant_pk(tenant), _sk(segment_id), version=expected_version)
    actions = [SegmentItem.updated_at.set(now_iso())]
    for name, value in changes.items():
        attribute = getattr(SegmentItem, _ATTRIBUTE_OF.get(name, name))
        if name == "references":
            value = sorted(set(value or []))
        if value is None or (name == "topics" and value == []):
            actions.append(attribute.remove())
        else:
            actions.append(attribute.set(value))
    try:
        item.update(actions=actions, condition=SegmentItem.pk.exists())
    except UpdateError as exc:
        if condition_failed(exc):
            _raise_stale_or_missing(tenant, segment_id, expected_version)
        raise
    rules_version.bump(tenant)
    return to_record(item)


def delete(tenant: str, segment_id: str, *, expected_version: int | None = None) -> None:
    """Delete the segment item (memberships are the caller's business); conditional on version."""
    item = SegmentItem(tenant_pk(tenant), _sk(segment_id), **versioned(expected_version))
    condition = SegmentItem.pk.exists()
    try:
        item.delete(condition=condition, add_version_condition=expected_version is not None)
    except DeleteError as exc:
        if condition_failed(exc):
            _raise_stale_or_missing(tenant, segment_id, expected_version)
        raise
    rules_version.bump(tenant)


def record_evaluation(
    tenant: str,
    segment_id: str,
    *,
    member_count: int,
    evaluated_at: str,
    status: str = "succeeded",
    error: str | None = None,
    last_run: dict[str, Any] | None = None,
) -> bool:
    """Store an evaluation's outcome without bumping ``version``; False if the segment is gone."""
    actions = [
        SegmentItem.member_count.set(member_count),
        SegmentItem.last_evaluated_at.set(evaluated_at),
        SegmentItem.evaluation_status.set(status),
        SegmentItem.evaluation_error.set(error) if error else SegmentItem.evaluation_error.remove(),
    ]
    if last_run is not None:
        actions.append(SegmentItem.last_run.set(last_run))
    rules_version.before_write(tenant)  # in a run's ``one_bump``: the stamp is pending before the first
    if not _update_unversioned(tenant, segment_id, actions):
        return False
    rules_version.bump(tenant)  # the stream keeps a run's decision on changes it saw (last_evaluated_at)
    return True


def set_member_count(tenant: str, segment_id: str, member_count: int) -> bool:
    """After a static change (add, remove, transfer): the new count, without bumping ``version``."""
    return _update_unversioned(tenant, segment_id, [SegmentItem.member_count.set(member_count)])


def adjust_member_count(tenant: str, segment_id: str, delta: int) -> int | None:
    """Add ``delta`` to the stored count (atomic ADD, no version bump); the new count, or None if the
    segment is gone. Cheaper than recounting a large static segment after every small change."""
    try:
        data = SegmentItem._get_connection().update_item(
            tenant_pk(tenant),
            range_key=_sk(segment_id),
            actions=[SegmentItem.member_count.add(int(delta))],
            condition=SegmentItem.pk.exists(),
            return_values="UPDATED_NEW",
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return int(data["Attributes"]["member_count"]["N"])


def _update_unversioned(tenant: str, segment_id: str, actions: list) -> bool:
    try:
        SegmentItem._get_connection().update_item(
            tenant_pk(tenant), range_key=_sk(segment_id), actions=actions, condition=SegmentItem.pk.exists()
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def _raise_stale_or_missing(tenant: str, segment_id: str, expected_version: int | None) -> None:
    current = find(tenant, segment_id)
    if current is None:
        raise NotFound(f"segment {segment_id!r} not found")
    raise PreconditionFailed(
        f"segment {segment_id!r} is at version {current.version}, not {expected_version}",
        [{"path": "If-Match", "message": f"current version is {current.version}"}],
    )
