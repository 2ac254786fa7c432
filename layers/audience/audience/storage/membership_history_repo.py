"""Every change of membership, with its cause (``GET /contacts/{id}/history``, ``GET /segments/{id}/history``).

Kept in MembershipsTable next to the memberships, so the writers that change a membership put its
history entry in the same BatchWriteItem requests (``memberships_repo``), and the table's existing
``by_contact`` index answers "this contact's changes" as it answers "this contact's segments":

- ``pk = {tenant}#/history/{segment_id}``, ``sk = {at}#{contact_id}#{change}``: a segment's changes in
  time order;
- ``gsi1pk = {tenant}#/history/{contact_id}``, ``gsi1sk = {at}#{segment_id}#{change}``: a contact's.

A contact id never contains ``/`` (``contacts.validation``), so these keys never meet a membership's
``{tenant}#{segment_id}`` / ``{tenant}#{contact_id}``. Entries expire through the table's ``ttl``
attribute after the tenant's event retention (``retention_days``).

The keys spell the entry's segment, contact, change and moment, so an entry stores only what they do
not (``source``, ``run_id``, ``rules_version``, ``ttl``) and readers take the rest from the keys
(``_parts``); entries written before also carry ``segment_id``, ``contact_id``, ``change`` and ``at``
as attributes, with the same values. A run's entry does not store its ``source`` either: only a run
writes a ``run_id``, so an entry with a ``run_id`` and no ``source`` is a run's (``_source``); older
run entries store ``"run"``, every other source is stored. A run writes an entry per membership it
changes (a first run of a segment as many as its members): five attributes fewer than the twelve of
the first entries is less to send, to parse and to store for each.

Unlike ``history_repo`` (per-day counters for ``/stats``) this holds one item per change.
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from audience.storage import batch, eventlog_repo
from audience.storage.base import SettingsBoundModel, now_iso
from audience.storage.models import MembershipsByContact, MembershipsMeta
from audience.storage.paging import check_start_key, collect
from audience.storage.records import Page

Change = Literal["joined", "left"]
Source = Literal["run", "api", "import", "transfer", "stream"]
RETENTION_CACHE_SECONDS = 60.0
_RETENTION: dict[str, tuple[float, int]] = {}  # tenant -> (read at, days)
# membership ``source`` (how a member got in) -> history ``source`` (what changed it)
SOURCE_OF_MEMBERSHIP = {"static": "api", "import": "import", "transfer": "transfer", "dynamic": "run"}


_HISTORY_MARK = "#/history/"


def history_pk(tenant: str, segment_id: str) -> str:
    return f"{tenant}{_HISTORY_MARK}{segment_id}"


def contact_history_pk(tenant: str, contact_id: str) -> str:
    return f"{tenant}#/history/{contact_id}"


class HistoryEntryItem(SettingsBoundModel):
    Meta = MembershipsMeta
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    # written before the keys were read instead (module docstring): absent on newer entries
    segment_id = UnicodeAttribute(null=True)
    contact_id = UnicodeAttribute(null=True)
    change = UnicodeAttribute(null=True)
    at = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)  # absent on a run's newer entries (module docstring)
    run_id = UnicodeAttribute(null=True)
    rules_version = NumberAttribute(null=True)
    ttl = TTLAttribute(null=True)
    by_contact = MembershipsByContact()


@dataclass(frozen=True)
class Cause:
    """Why memberships changed: who wrote them (``source``), and for a run which run and which
    version of the segment's rules. ``at`` defaults to the moment of writing."""

    source: Source
    run_id: str | None = None
    rules_version: int | None = None
    at: str | None = None


def retention_days(tenant: str) -> int:
    """How long the tenant's entries are kept: its event retention (``/settings/events``), read at
    most once a minute per process, not once per entry (a new setting reaches entries within a minute)."""
    now = time.monotonic()
    cached = _RETENTION.get(tenant)
    if cached is None or now - cached[0] > RETENTION_CACHE_SECONDS:
        cached = _RETENTION[tenant] = (now, eventlog_repo.retention_days(tenant))
    return cached[1]


def stamp(moment: str | datetime) -> str:
    """An ISO instant in the form the keys sort by (UTC, milliseconds, ``Z``), so ``since`` compares
    right against ``at`` (``...00.000Z`` sorts before ``...00Z``)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entries(
    tenant: str, segment_id: str, contact_ids: Iterable[str], change: Change, cause: Cause
) -> list[dict[str, Any]]:
    """The items recording that ``contact_ids`` ``change``d in ``segment_id`` (not yet written), as
    the attribute maps ``HistoryEntryItem`` stores: a run writes one per membership it changes, and
    building a model per entry only to serialise it cost more than sending it. The segment, contact,
    change and moment are in the keys only (module docstring)."""
    return list(iter_entries(tenant, segment_id, contact_ids, change, cause))


def iter_entries(
    tenant: str, segment_id: str, contact_ids: Iterable[str], change: Change, cause: Cause
) -> Iterator[dict[str, Any]]:
    """``entries``, built one at a time as the batch writer takes them (``batch.write``): a run's
    tens of thousands of entries are not all held at once. The moment, retention and shared
    attributes are settled here, when called, not when the first entry is taken."""
    at = cause.at or now_iso()
    expires = datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(days=retention_days(tenant))
    shared: dict[str, Any] = {
        "ttl": {"N": json.dumps(calendar.timegm(expires.utctimetuple()))},  # as TTLAttribute serialises it
    }
    if cause.source != "run" or cause.run_id is None:  # a run's entry is told by its run_id (``_source``)
        shared["source"] = {"S": cause.source}
    if cause.run_id is not None:
        shared["run_id"] = {"S": cause.run_id}
    if cause.rules_version is not None:
        shared["rules_version"] = {"N": json.dumps(cause.rules_version)}  # as NumberAttribute does
    pk = {"S": history_pk(tenant, segment_id)}
    return (
        {
            "pk": pk,
            "sk": {"S": f"{at}#{contact_id}#{change}"},
            "gsi1pk": {"S": contact_history_pk(tenant, contact_id)},
            "gsi1sk": {"S": f"{at}#{segment_id}#{change}"},
            **shared,
        }
        for contact_id in contact_ids
    )


def record(tenant: str, segment_id: str, contact_ids: Iterable[str], change: Change, cause: Cause) -> int:
    """Write entries on their own (when the membership write is not a batch of this table's)."""
    return batch.write(HistoryEntryItem, puts=entries(tenant, segment_id, contact_ids, change, cause))


def record_many(tenant: str, changes: Iterable[tuple[str, str, Change]], cause: Cause) -> int:
    """``(segment_id, contact_id, change)`` triples of one cause, in one batched write."""
    items = [item for sid, cid, change in changes for item in entries(tenant, sid, [cid], change, cause)]
    return batch.write(HistoryEntryItem, puts=items) if items else 0


def _parts(pk: str, sk: str) -> tuple[str, str, str, str]:
    """``(segment_id, contact_id, change, at)`` of an entry, from its keys (``{tenant}#/history/{segment}``,
    ``{at}#{contact}#{change}``): a stamp and a change never hold ``#``, a contact id may."""
    at, rest = sk.split("#", 1)
    contact_id, change = rest.rsplit("#", 1)
    return pk.split(_HISTORY_MARK, 1)[1], contact_id, change, at


def _source(stored: str | None) -> str:
    """An entry's source: as stored, else a run's (``entries`` leaves it out of a run's entries alone,
    which carry their ``run_id``)."""
    return stored or "run"


def _as_dict(item: HistoryEntryItem) -> dict[str, Any]:
    segment_id, contact_id, change, at = _parts(item.pk, item.sk)
    out: dict[str, Any] = {
        "segment_id": segment_id,
        "contact_id": contact_id,
        "change": change,
        "at": at,
        "source": _source(item.source),
    }
    if item.run_id:
        out["run_id"] = item.run_id
    if item.rules_version is not None:
        out["rules_version"] = int(item.rules_version)
    return out


def for_contact(tenant: str, contact_id: str, *, limit: int = 50, start_key: dict[str, Any] | None = None) -> Page:
    """A page of one contact's changes, newest first."""
    pk = contact_history_pk(tenant, contact_id)
    items = HistoryEntryItem.by_contact.query(
        pk, scan_index_forward=False, page_size=limit + 1,
        last_evaluated_key=check_start_key(start_key, pk, pk_name="gsi1pk"),
    )
    return collect(items, limit, key_of=_index_key, convert=_as_dict)


def for_segment(tenant: str, segment_id: str, *, since: str | datetime | None = None, limit: int = 50,
                start_key: dict[str, Any] | None = None) -> Page:
    """A page of one segment's changes at or after ``since`` (an ISO instant), newest first."""
    pk = history_pk(tenant, segment_id)
    condition = HistoryEntryItem.sk >= stamp(since) if since else None
    items = HistoryEntryItem.query(
        pk, condition, scan_index_forward=False, page_size=limit + 1,
        last_evaluated_key=check_start_key(start_key, pk),
    )
    return collect(items, limit, key_of=lambda i: {"pk": i.pk, "sk": i.sk}, convert=_as_dict)


def latest_changes_since(tenant: str, segment_id: str, since: str | datetime) -> dict[str, Change]:
    """Each contact's last change in the segment at or after ``since``: where it stands now
    relative to then (a contact that joined and left again ends as ``left``)."""
    last: dict[str, Change] = {}
    pk = history_pk(tenant, segment_id)
    query = HistoryEntryItem.query(pk, HistoryEntryItem.sk >= stamp(since), attributes_to_get=["sk"])
    for item in query:  # time order: a later change overwrites an earlier one
        _, contact_id, change, _ = _parts(pk, item.sk)
        last[contact_id] = change  # type: ignore[assignment]
    return last


def erase_contact(tenant: str, contact_id: str) -> int:
    """Delete every entry of one contact (erasure); returns how many."""
    keys = [{"pk": item.pk, "sk": item.sk} for item in _iter_contact(tenant, contact_id)]
    return batch.write(HistoryEntryItem, delete_keys=keys) if keys else 0


def _iter_contact(tenant: str, contact_id: str) -> Iterator[HistoryEntryItem]:
    return HistoryEntryItem.by_contact.query(contact_history_pk(tenant, contact_id))


def _index_key(item: HistoryEntryItem) -> dict[str, str]:
    return {"pk": item.pk, "sk": item.sk, "gsi1pk": item.gsi1pk, "gsi1sk": item.gsi1sk}
