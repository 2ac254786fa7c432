"""moto's Query on a table's own key made to read one partition, with the same answers.

moto 5 answers a Query on the base table by listing and sorting **every** item of the table, then
keeping those of the asked partition: each call costs time in proportion to the whole table, where
DynamoDB reads only the partition. On the local stack MainTable holds two unique-key items per
contact, so each tenant-rules or job look-up slows down as imports grow the tenant (at 50,000
contacts most of moto's time went there). This keeps moto's own ``Table.query`` for everything
(conditions, order, paging, filters, projections) and only narrows what it lists: while a
base-table Query runs, ``all_items`` lists the asked partition; while an index Query runs, every item
unsorted. moto sorts what matches by the table's or the index's keys afterwards either way, so the
order it is given does not matter.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from infra.moto_patches import Patches

_STATE = threading.local()
_patches = Patches()


def install() -> None:
    """Patch moto's DynamoDB ``Table`` in this process (idempotent)."""
    if _patches.installed:
        return
    from moto.dynamodb.models.table import Table

    query, all_items = Table.query, Table.all_items
    signature = inspect.signature(Table.query)  # moto passes index_name by position

    def scoped_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs).arguments
        scope = (self, None if call.get("index_name") else call["hash_key"])
        outer, _STATE.query = getattr(_STATE, "query", None), scope
        try:
            return query(self, *args, **kwargs)
        finally:
            _STATE.query = outer

    def scoped_items(self: Any) -> list[Any]:
        scope = getattr(_STATE, "query", None)
        if scope is None or scope[0] is not self:
            return all_items(self)
        partition = scope[1]
        if partition is None:  # an index Query: moto sorts what matches by the index's keys
            return [item for bucket in list(self.items.values()) for item in _items_of(self, bucket)]
        bucket = self.items.get(partition)
        return [] if bucket is None else _items_of(self, bucket)

    _patches.replace(Table, "query", scoped_query)
    _patches.replace(Table, "all_items", scoped_items)


def _items_of(table: Any, bucket: Any) -> list[Any]:
    """The items of one partition (a dict by sort key, or the item itself without a sort key), copied
    in one call so a write racing the query cannot change the dict under it."""
    return list(bucket.values()) if table.range_key_attr else [bucket]


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
