"""Per-day segment history, read by ``/segments/{id}/stats`` from two places.

- Day items (MainTable ``T#{tenant}#SEG#{segment}`` / ``DAY#{yyyy-mm-dd}``): scheduled runs, static
  changes, erasure and the stream's batched flush add their added/removed counts to the day's item
  (``add_day``) and set its ``total`` (the latest size) and ``at`` (when).
- The segment's open day (``day``, ``day_added``, ``day_removed``, ``day_total``, ``day_at`` on the
  segment item): a stream change alone in its invocation moves them in the same conditional update as
  ``member_count`` (``realtime.batched.transact_change``), so a moved segment costs one write instead
  of two. The first such change of a later day writes the open day out as the item
  ``DAY#{yyyy-mm-dd}#open`` (``open_day_item``) and opens the new day.

``range`` sums every source of a date (the day item, the written-out open day, the open day still on
the segment item): added and removed add up, and ``total`` is the one set last (``at``; an item
written before ``at`` existed counts as older than any that has it). Answers are those one day item
per date gave when every writer added to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audience.storage import batch, segments_repo
from audience.storage.base import now_iso
from audience.storage.models import HistoryDayItem, SegmentItem, history_pk, tenant_pk
from audience.storage.records import HistoryDay

PREFIX = "DAY#"
OPEN_SUFFIX = "#open"  # sk DAY#{date}#open: an open day written out (sorts after DAY#{date})
OPEN_DAY_ATTRIBUTES = ("day", "day_added", "day_removed", "day_total", "day_at")


@dataclass(frozen=True)
class OpenDay:
    """A segment's open day as stored on its item (``SegmentItem.day`` ...)."""

    day: str
    added: int
    removed: int
    total: int
    at: str | None


def open_day_of(item: SegmentItem) -> OpenDay | None:
    """The open day held by a segment item read with ``OPEN_DAY_ATTRIBUTES`` (None: it has none)."""
    if not item.day:
        return None
    return OpenDay(
        day=item.day,
        added=int(item.day_added or 0),
        removed=int(item.day_removed or 0),
        total=int(item.day_total or 0),
        at=item.day_at,
    )


def add_day(tenant: str, segment_id: str, date: str, added: int, removed: int, total: int) -> None:
    """Accumulate one evaluation's changes into the day ``date`` (``yyyy-mm-dd``, UTC)."""
    HistoryDayItem._get_connection().update_item(
        history_pk(tenant, segment_id),
        range_key=PREFIX + date,
        actions=[
            HistoryDayItem.added.add(int(added)),
            HistoryDayItem.removed.add(int(removed)),
            HistoryDayItem.total.set(int(total)),
            HistoryDayItem.at.set(now_iso()),
        ],
    )


def day_update(
    table: str,
    tenant: str,
    segment_id: str,
    date: str,
    added: int,
    removed: int,
    total: int,
    at: str,
    *,
    suffix: str = "",
) -> dict[str, Any]:
    """``add_day`` as a TransactWriteItems ``Update`` action (``suffix`` ``OPEN_SUFFIX``: an open day
    written out)."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": history_pk(tenant, segment_id)}, "sk": {"S": PREFIX + date + suffix}},
            "UpdateExpression": "ADD #added :added, #removed :removed SET #total = :total, #at = :at",
            "ExpressionAttributeNames": {"#added": "added", "#removed": "removed", "#total": "total", "#at": "at"},
            "ExpressionAttributeValues": {
                ":added": {"N": str(int(added))},
                ":removed": {"N": str(int(removed))},
                ":total": {"N": str(int(total))},
                ":at": {"S": at},
            },
        }
    }


def open_day_item(table: str, tenant: str, segment_id: str, opened: OpenDay) -> dict[str, Any]:
    """The action writing out an open day when the next one opens."""
    return day_update(
        table,
        tenant,
        segment_id,
        opened.day,
        opened.added,
        opened.removed,
        opened.total,
        opened.at or "",
        suffix=OPEN_SUFFIX,
    )


def open_day(tenant: str, segment_id: str) -> OpenDay | None:
    """The segment's open day (None: no lone stream change wrote one, or the segment is gone)."""
    try:
        item = SegmentItem.get(
            tenant_pk(tenant), segments_repo.PREFIX + segment_id, attributes_to_get=list(OPEN_DAY_ATTRIBUTES)
        )
    except SegmentItem.DoesNotExist:
        return None
    return open_day_of(item)


def range(tenant: str, segment_id: str, date_from: str, date_to: str) -> list[HistoryDay]:
    """Days with history between ``date_from`` and ``date_to`` inclusive, oldest first: each date's
    day item, written-out open day and the segment's open day merged (see the module docstring)."""
    items = HistoryDayItem.query(
        history_pk(tenant, segment_id), HistoryDayItem.sk.between(PREFIX + date_from, PREFIX + date_to + "~")
    )
    parts = [
        (item.sk[len(PREFIX) :][:10], int(item.added), int(item.removed), int(item.total), item.at) for item in items
    ]
    opened = open_day(tenant, segment_id)
    if opened is not None and date_from <= opened.day <= date_to:
        parts.append((opened.day, opened.added, opened.removed, opened.total, opened.at))
    merged: dict[str, tuple[int, int, int, str]] = {}
    for date, added, removed, total, at in parts:
        before = merged.get(date)
        if before is None:
            merged[date] = (added, removed, total, at or "")
            continue
        later = (at or "") >= before[3]
        merged[date] = (
            before[0] + added,
            before[1] + removed,
            total if later else before[2],
            (at or "") if later else before[3],
        )
    return [
        HistoryDay(date=date, added=added, removed=removed, total=total)
        for date, (added, removed, total, _) in sorted(merged.items())
    ]


def delete_all(tenant: str, segment_id: str) -> None:
    """Drop a deleted segment's history (its open day goes with the segment item)."""
    keys = [{"pk": item.pk, "sk": item.sk} for item in HistoryDayItem.query(history_pk(tenant, segment_id))]
    if keys:
        batch.write(HistoryDayItem, delete_keys=keys)
