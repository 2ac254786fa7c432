"""moto's item sizes measured once per item in a Query or Scan, by a direct walk, with the same figures.

moto 5 stops a Query or Scan page at 1 MB of items, and measures each item it reads twice for that:
once to see whether it still fits (``result_size + item.size() > RESULT_SIZE_LIMIT``) and once more to
add it (``result_size += item.size()``). ``Item.size`` sums ``DynamoType.size`` over the attributes,
which builds a new ``DynamoType`` for every member of a map (a contact's ``fields``) before measuring
it. The demo's first snapshot reads each tenant's 20,000 contacts by Query in 1 MB pages, and those
sizes were about 40% of that Query's time (py-spy).

While a Query or Scan runs, each item's size is therefore kept for the rest of that request (by the
item's identity, holding the item so its id is not reused): the second measure reads the first.
Nothing can be kept longer: an UpdateItem changes an item's attributes in place, so a size kept on
the item would go stale; within one request moto itself changes no stored item (the page it answers
is projected into new items). Outside a Query or Scan, ``Item.size`` measures each time, as moto does.

The measure itself walks the attributes directly: a text is its UTF-8 length, a number the length of
its text, a boolean or null 1, a map the sum of its keys' UTF-8 lengths and its members' sizes, a
list the sum of its members' sizes: exactly the branches of moto's ``DynamoType.size`` for those
kinds, without building a ``DynamoType`` per map member. Any other kind or shape (sets, binary, a
value that is not moto's usual type) is measured by moto's ``DynamoType.size`` itself. An item still
kept as its put's attributes (``infra.local_moto_items.lazy_item``) is measured the same way from
those attributes, without building its values (a set is built alone and measured as moto measures it).

(BatchGetItem measures no item size in this moto: its 16 MB cap is not modelled.)
"""

from __future__ import annotations

import threading
from typing import Any

from infra.moto_patches import Patches

_STATE = threading.local()  # .sizes: {id(item): (item, size)} while a Query or Scan runs, else absent
_patches = Patches()


def install() -> None:
    """Patch moto's DynamoDB ``Item.size`` and ``Table.query``/``Table.scan`` in this process (idempotent)."""
    if _patches.installed:
        return
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

    measure = make_item_size(DynamoType.size)

    def size(self: Any) -> int:
        sizes = getattr(_STATE, "sizes", None)
        if sizes is None:
            return measure(self)
        known = sizes.get(id(self))
        if known is not None and known[0] is self:
            return known[1]
        value = measure(self)
        sizes[id(self)] = (self, value)
        return value

    _patches.replace(Item, "size", size)
    _patches.replace(Table, "query", _sizes_kept_while(Table.query))
    _patches.replace(Table, "scan", _sizes_kept_while(Table.scan))


def _sizes_kept_while(read: Any) -> Any:
    """``read`` (moto's ``Table.query`` or ``Table.scan``) with the sizes of the items it measures
    kept until it returns (a nested read keeps its own)."""

    def sized_read(self: Any, *args: Any, **kwargs: Any) -> Any:
        outer, _STATE.sizes = getattr(_STATE, "sizes", None), {}
        try:
            return read(self, *args, **kwargs)
        finally:
            _STATE.sizes = outer

    sized_read.__wrapped__ = read  # type: ignore[attr-defined]
    return sized_read


def make_item_size(value_size: Any) -> Any:
    """A function giving ``Item.size`` as moto computes it (see module); ``value_size`` is moto's own
    ``DynamoType.size``, used for the kinds the direct walk leaves to moto. An item holding anything
    but moto's values under text keys is measured by moto's own sum, errors included."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    from infra.local_moto_items import make_typed_value, request_attrs

    def typed_size(value: Any) -> int:
        if type(value) is not DynamoType:
            raise _NotMotoValue
        kind, raw = value.type, value.value
        raw_type = type(raw)
        if raw_type is str:
            if kind == "S":
                return len(raw.encode("utf-8"))
            if kind == "N":
                return len(raw)
        elif raw_type is bool:
            if kind in ("BOOL", "NULL"):
                return 1
        elif raw_type is dict:
            if kind == "M":
                return sum(len(key.encode("utf-8")) + typed_size(member) for key, member in raw.items())
        elif raw_type is list and kind == "L":
            return sum(typed_size(member) for member in raw)
        return value_size(value)

    typed_value = make_typed_value()

    def raw_size(value: dict[str, Any]) -> int:  # a stored request attribute's size, as typed_size
        ((kind, raw),) = value.items()
        raw_type = type(raw)
        if raw_type is str:
            if kind == "S":
                return len(raw.encode("utf-8"))
            if kind == "N":
                return len(raw)
        elif raw_type is bool:
            if kind in ("BOOL", "NULL"):
                return 1
        elif raw_type is dict:
            if kind == "M":
                return sum(len(key.encode("utf-8")) + raw_size(member) for key, member in raw.items())
        elif raw_type is list and kind == "L":
            return sum(raw_size(member) for member in raw)
        return typed_size(typed_value(value))

    def item_size(item: Any) -> int:
        raw = request_attrs(item)
        if raw is not None:  # not built yet: measured from the attributes it will be built from
            return sum(len(key.encode("utf-8")) + raw_size(value) for key, value in raw.items())
        try:
            return sum(len(key.encode("utf-8")) + typed_size(value) for key, value in item.attrs.items())
        except (_NotMotoValue, AttributeError):  # a key that is not text, a member that is not a value
            return sum(bytesize(key) + value.size() for key, value in item.attrs.items())

    return item_size


class _NotMotoValue(Exception):
    """Raised by the direct walk on a member that is not a ``DynamoType`` (left to moto's sum)."""


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
