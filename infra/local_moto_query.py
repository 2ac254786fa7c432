"""moto's DynamoDB Query made to cost what DynamoDB's does: the partition's items, not the table's.

moto 5 answers every Query by listing *all* items of the table sorted by key (``Table.all_items``,
Python comparisons of ``DynamoType`` objects) and only then keeping those of the queried partition.
One Query of a 50-item partition of MembershipsTable costs a sort of the whole table: ~0.5-1 s once
a tenant has 100,000 memberships and history entries, so the local stack slows down as its tables
grow (the demo's first run, segment creation and the stream's reads each paid it many times over),
where DynamoDB's cost follows the partition read.

While a patched ``Table.query`` runs, ``all_items`` hands moto's own query code only the queried
partition (a table Query: moto's items are already grouped by partition key), or every item
unsorted (an index Query: moto sorts the matches by the index's keys afterwards, so the order it is
given does not matter). Every filter, sort, page and projection is still moto's own code.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

_SCOPE = threading.local()
_originals: dict[str, Any] = {}


def install() -> None:
    """Patch moto's DynamoDB ``Table`` in this process (idempotent)."""
    if _originals:
        return
    from moto.dynamodb.models.table import Table

    _originals["query"], _originals["all_items"] = Table.query, Table.all_items
    signature = inspect.signature(Table.query)  # moto passes index_name by position

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs).arguments
        scope = (self, None if call.get("index_name") else call["hash_key"])
        outer, _SCOPE.query = getattr(_SCOPE, "query", None), scope
        try:
            return _originals["query"](self, *args, **kwargs)
        finally:
            _SCOPE.query = outer

    def all_items(self: Any) -> list[Any]:
        scope = getattr(_SCOPE, "query", None)
        if scope is None or scope[0] is not self:
            return _originals["all_items"](self)
        partition = scope[1]
        if partition is None:  # an index Query: moto sorts what matches by the index's keys
            return [item for bucket in list(self.items.values()) for item in _items_of(self, bucket)]
        bucket = self.items.get(partition)
        return [] if bucket is None else _items_of(self, bucket)

    Table.query, Table.all_items = query, all_items


def _items_of(table: Any, bucket: Any) -> list[Any]:
    """The items of one partition (a dict by sort key, or the item itself without a sort key)."""
    return list(bucket.values()) if table.range_key_attr else [bucket]


def uninstall() -> None:
    if not _originals:
        return
    from moto.dynamodb.models.table import Table

    Table.query, Table.all_items = _originals.pop("query"), _originals.pop("all_items")
