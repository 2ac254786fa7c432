"""moto's Query on a table's own key made to read one partition, with the same answers.

moto 5 answers a Query on the base table by listing and sorting **every** item of the table, then
keeping those of the asked partition: each call costs time in proportion to the whole table, where
DynamoDB reads only the partition. On the local stack MainTable holds two unique-key items per
contact, so each tenant-rules or job look-up slows down as imports grow the tenant (at 50,000
contacts most of moto's time went there). This keeps moto's own ``Table.query`` for everything
(conditions, order, paging, filters, projections) and only narrows what it sorts: while a
base-table Query runs, ``all_items`` lists the asked partition, sorted as moto sorts it.
Index queries are untouched.
"""

from __future__ import annotations

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

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        _STATE.partition = hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _STATE.partition = None

    def partition_items(self: Any) -> list[Any]:
        hash_key = getattr(_STATE, "partition", None)
        if hash_key is None:
            return all_items(self)
        bucket = self.items.get(hash_key)
        if bucket is None:
            return []
        if not self.range_key_attr:
            return [bucket]
        return sorted(bucket.values(), key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    _patches.replace(Table, "query", partition_query)
    _patches.replace(Table, "all_items", partition_items)


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
