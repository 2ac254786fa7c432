"""Who is in a segment, for an export: its member ids as one sorted Arrow array, read in bulk.

- A **dynamic** segment: the last run's membership Parquet (``evaluation.state``), corrected for what
  the real-time path changed since that run (the contacts the stream touched after the state's cut
  are looked up in the membership table, BatchGets of 100: a handful, not the segment). A contact the
  stream put in is then a member, one it took out is not.
- A **static** segment, or any segment when the export filters on ``added_since`` (the join date
  lives only on the membership items): a DynamoDB Query of the segment's partition projected to the
  contact id (and ``added_at``), 1 MB pages.

The state is trusted only when it agrees with the segment's ``member_count`` (kept by runs, the
stream, erasures and category placement alike) once erased contacts are taken out; otherwise — the
segment was never evaluated, its state is lost, a run died between its writes, or a static segment of
the same category took members away since — the membership table is read instead (``table``).
Memory: about 30 bytes per member id (the ids, never the contacts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from audience.evaluation import state
from audience.rules.vectorised import contains, sorted_ids
from audience.storage import memberships_repo
from audience.storage.records import Segment

STATE = "state"  # dynamic: last run's Parquet, corrected for the stream
TABLE = "table"  # the membership table itself


@dataclass(frozen=True)
class Members:
    ids: pa.Array  # sorted, distinct contact ids
    source: str  # STATE or TABLE
    added_at: pa.Array | None = None  # aligned with ids, when read with the join dates


def from_table(tenant: str, segment_id: str, *, with_added_at: bool = False) -> Members:
    """The membership table's members (Query pages projected to the id, and ``added_at`` if asked)."""
    ids: list[str] = []
    added: list[str | None] = []
    for contact_id, added_at in memberships_repo.iter_segment_ids(tenant, segment_id, with_added_at=with_added_at):
        ids.append(contact_id)
        added.append(added_at)
    # the Query answers in sort-key order, which is Arrow's bytewise order for these ASCII ids
    return Members(pa.array(ids, pa.string()), TABLE, pa.array(added, pa.string()) if with_added_at else None)


def from_state(tenant: str, segment: Segment, s3, bucket: str, *, erased: pa.Array | None = None) -> Members | None:
    """The last run's members corrected for the stream, or None when no trustworthy state exists.

    ``erased``: contacts known to be erased (tombstones of the snapshot and of its patch), taken out
    before the state is checked against ``member_count``."""
    found = state.read_state(tenant, segment.id, s3, bucket)
    if found is None:
        return None
    members = sorted_ids(found.members)
    touched = _touched_since(tenant, found.cut)
    if touched:
        held = memberships_repo.existing(tenant, segment.id, touched, consistent=True)
        members = _corrected(members, touched, held)
    live = members
    if erased is not None and len(erased) and len(members):
        live = members.filter(pc.invert(contains(sorted_ids(erased), members)))
    if len(live) != segment.member_count:
        return None
    return Members(live, STATE)


def segment_members(
    tenant: str,
    segment: Segment,
    s3,
    bucket: str,
    *,
    with_added_at: bool = False,
    erased: Callable[[], pa.Array] | None = None,
) -> Members:
    """The members an export reads (module docstring); ``erased`` is asked only for a dynamic state."""
    if segment.type == "dynamic" and not with_added_at:
        found = from_state(tenant, segment, s3, bucket, erased=erased() if erased else None)
        if found is not None:
            return found
    return from_table(tenant, segment.id, with_added_at=with_added_at)


def _touched_since(tenant: str, cut: str | None) -> list[str]:
    from audience.realtime import stamps

    return [contact_id for contact_id, _ in stamps.changed_after(tenant, cut or "")]


def _corrected(members: pa.Array, touched: Iterable[str], held: set[str]) -> pa.Array:
    touched_ids = sorted_ids(list(touched))
    kept = members.filter(pc.invert(contains(touched_ids, members))) if len(members) else members
    return sorted_ids(pa.concat_arrays([kept, pa.array(sorted(held), pa.string())]))


EMPTY = pa.array([], pa.string())


def joined_since(members: Members, moment) -> pa.Array:
    """The ids of members whose membership was added at or after ``moment`` (needs ``added_at``)."""
    if members.added_at is None or not len(members.ids):
        return members.ids
    stamps = pc.cast(members.added_at, pa.timestamp("us", "UTC"))
    recent = pc.fill_null(pc.greater_equal(stamps, pa.scalar(moment, pa.timestamp("us", "UTC"))), False)
    return members.ids.filter(recent)
