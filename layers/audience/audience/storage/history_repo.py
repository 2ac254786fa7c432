"""Per-day segment history (MainTable ``T#{tenant}#SEG#{segment}`` / ``DAY#{yyyy-mm-dd}``).

Several evaluations on one day add up their added/removed counts; ``total`` is the latest size.
"""

from __future__ import annotations

from audience.storage import batch
from audience.storage.models import HistoryDayItem, history_pk
from audience.storage.records import HistoryDay

PREFIX = "DAY#"


def add_day(tenant: str, segment_id: str, date: str, added: int, removed: int, total: int) -> None:
    """Accumulate one evaluation's changes into the day ``date`` (``yyyy-mm-dd``, UTC)."""
    HistoryDayItem._get_connection().update_item(
        history_pk(tenant, segment_id),
        range_key=PREFIX + date,
        actions=[
            HistoryDayItem.added.add(int(added)),
            HistoryDayItem.removed.add(int(removed)),
            HistoryDayItem.total.set(int(total)),
        ],
    )


def range(tenant: str, segment_id: str, date_from: str, date_to: str) -> list[HistoryDay]:
    """Days with history between ``date_from`` and ``date_to`` inclusive, oldest first."""
    items = HistoryDayItem.query(
        history_pk(tenant, segment_id), HistoryDayItem.sk.between(PREFIX + date_from, PREFIX + date_to)
    )
    return [
        HistoryDay(
            date=item.sk[len(PREFIX) :],
            added=int(item.added),
            removed=int(item.removed),
            total=int(item.total),
        )
        for item in items
    ]


def delete_all(tenant: str, segment_id: str) -> None:
    """Drop a deleted segment's history."""
    keys = [{"pk": item.pk, "sk": item.sk} for item in HistoryDayItem.query(history_pk(tenant, segment_id))]
    if keys:
        batch.write(HistoryDayItem, delete_keys=keys)
