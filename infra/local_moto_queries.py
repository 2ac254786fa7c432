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

A base-table Query also gets its partition already in moto's order and without the items up to
its ``ExclusiveStartKey``: moto sorts the partition by comparing its own key objects and then steps
over every item of the pages before, so reading a 20,000-contact partition page by page (the
first snapshot of a tenant) cost each page the whole partition again. The partition is sorted by
the same values moto compares (``cast_value``, read directly for text keys; keys are unique in a
partition, so the order is the same) and cut where the start key falls, by bisection; moto's own
sort and skip then have nothing left to do. A start key of another partition or type is left to moto.

moto then deep-copies the page it answers (``copy.deepcopy(results)``) before projecting and
filtering it: the snapshot reads every contact that way, page by page, and the copies were half of
moto's time on those pages. Nothing on the way to the answer changes an item (an index projection
and a projection expression build new items, a filter only reads, and the handler converts the
page to new dicts at once), so while a Query runs the page is copied as a list of the same items.
"""

from __future__ import annotations

import inspect
import threading
from bisect import bisect_left, bisect_right
from typing import Any

from infra.moto_patches import Patches

_STATE = threading.local()
_BY_VALUE = frozenset({"S", "B"})  # sort key kinds whose cast_value is their value
_patches = Patches()


def install() -> None:
    """Patch moto's DynamoDB ``Table`` in this process (idempotent)."""
    if _patches.installed:
        return
    import moto.dynamodb.models.table as tables
    from moto.dynamodb.models.table import Table

    query, all_items = Table.query, Table.all_items
    signature = inspect.signature(Table.query)  # moto passes index_name by position

    def scoped_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs).arguments
        scope = (
            self,
            None if call.get("index_name") else call["hash_key"],
            call.get("exclusive_start_key"),
            call.get("scan_index_forward", True) is not False,
        )
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
        if bucket is None:
            return []
        if not self.range_key_attr:
            return _items_of(self, bucket)
        return _after_start(self, _items_of(self, bucket), partition, scope[2], scope[3])

    _patches.replace(Table, "query", scoped_query)
    _patches.replace(Table, "all_items", scoped_items)
    _patches.replace(tables, "copy", _PagesAreNotCopied(tables.copy))


class _PagesAreNotCopied:
    """Stands in for the ``copy`` module inside moto's table module: while a Query runs, the deep
    copy of its page (a list of items) is a new list of the same items (see module)."""

    def __init__(self, module: Any) -> None:
        self._copy = module

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(_STATE, "query", None) is not None and type(value) is list:
            return list(value)
        return self._copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._copy, name)


def _items_of(table: Any, bucket: Any) -> list[Any]:
    """The items of one partition (a dict by sort key, or the item itself without a sort key), copied
    in one call so a write racing the query cannot change the dict under it."""
    return list(bucket.values()) if table.range_key_attr else [bucket]


def _after_start(table: Any, items: list[Any], partition: Any, start: Any, forward: bool) -> list[Any]:
    """The partition in moto's ascending order, without the items a query from ``start`` steps over
    (those up to it forward, those from it on backward)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    keys = [_sort_value(item.range_key) for item in items]
    order = sorted(range(len(items)), key=keys.__getitem__)
    items, keys = [items[i] for i in order], [keys[i] for i in order]
    if not start:
        return items
    hash_value, range_value = start.get(table.hash_key_attr), start.get(table.range_key_attr)
    if (
        not isinstance(range_value, dict)
        or list(range_value) != [table.range_key_type]
        or not isinstance(hash_value, dict)
        or DynamoType(hash_value) != partition
    ):
        return items  # moto judges an odd start key itself
    cut = DynamoType(range_value).cast_value
    return items[bisect_right(keys, cut) :] if forward else items[: bisect_left(keys, cut)]


def _sort_value(key: Any) -> Any:
    """The value moto compares a sort key by (``cast_value``): a text or binary key's own value, read
    directly (``cast_value`` asks five type questions before it returns it, per item per page)."""
    return key.value if key.type in _BY_VALUE else key.cast_value


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
