"""moto's items built with one size check instead of one per attribute, with the same limit.

moto 5 stores an item's attributes in a ``LimitedSizeDict`` whose every assignment sums the sizes
of all attributes already there (DynamoDB's 400 KB item limit): building an item of n attributes
costs n² size computations, a third of the time of every PutItem, BatchWriteItem and transaction
write on the local stack (a contact has about a dozen attributes, and the stream record sizes them
again). This builds ``Item.attrs`` the same way and checks the item's total size once: the same
items are refused (sizes are never negative, so a total within the limit means every prefix was).
Later assignments (update expressions) keep moto's own check.

The exact sum is skipped when the item's JSON text is within the limit: JSON spells every key and
value at least as long as moto counts it (its escapes are longer than UTF-8, ``true`` longer than
the 1 byte of a boolean or null), so such an item is within the limit too. Items whose values are
not plain JSON (bytes, moto's own types) are summed.

Each attribute's moto value (``DynamoType``) is built directly, not through ``DynamoType.__init__``
(which reads the ``{type: value}`` dict by listing its keys and values twice, then recurses the same
way into lists and maps): a contact's dozen attributes and their nested ``fields`` map were a fifth
of moto's time per item written. Only the usual one-entry dict with a list (``L``) or dict (``M``)
where moto recurses is built this way, into the same ``type``/``value`` pair; anything else (an odd
shape, a moto value given back to moto) goes through ``DynamoType`` as before, errors included.

Within a PutItem, BatchWriteItem or TransactWriteItems request whose whole body is within the limit,
the JSON check is not even made: every item such a request builds is read from that body (the put
items, or an update's keys), and its JSON spelling there is a part of the body, so no item can be
larger than the body. The body's length is noted when moto's handler calls the action, and
forgotten when it returns.

The stream record of a put shows the new item as ``Item.to_json`` gives it, which is the
``{type: value}`` attributes the item was built from whenever each value took the direct way above
and holds no binary text (moto decodes nested binary text in images). Such an item, built inside
``Table.put_item``, is noted with the request's attributes it was built from, and the stream record
of that put takes them as its new image (``new_image``) instead of walking the item again. Nothing
else holds those attributes: the item's values share no list or dict with them (a set's list is
copied), and the request's parameters are dropped when it is answered. The note is forgotten
when ``put_item`` returns; an old image, or any other record, is built from the item.

The key values of a look-up by key (GetItem, DeleteItem, UpdateItem, every item of a transaction:
``DynamoDBBackend.get_keys_value``) are built the same direct way.

Items are found by their keys' moto values, whose ``__hash__`` and ``__eq__`` compare ``cast_value``
(a property that asks five type questions before it returns a text key's own value): a lookup
hashes and compares keys several times per item written or read. For text, binary and boolean
values ``cast_value`` is the value itself, so those hash and compare their value directly, the
same hash and the same answer; every other kind keeps moto's code.

A put whose item ``infra.local_moto_puts`` proved plain and built directly (``provably_lazy``: the
values above take the direct way, none is binary) stores the item as its request's attributes
(``lazy_item``: a ``LazyItem``, moto's ``Item`` with the key values built and ``attrs`` built on first
access, exactly as above). Building a dozen moto values per item was most of what a put still cost,
and most stored items are never read item by item: the first run's ~120,000 memberships and history
entries, the key claims; the contacts are read once by the first snapshot's Query. Reading ``attrs``
(a condition, an update, GetItem, a filter, a stream's old image, moto's own code) builds them then;
a Query measures such an item from its attributes (``infra.local_moto_sizes``) and answers them as
they are (``RawAnswer``: the same JSON), so the snapshot's pages build nothing; GetItem, BatchGetItem
and TransactGetItems answer them likewise (``LazyItem.describe_attrs``). The attributes are
the request's own: nothing changes them (moto's values are built into new objects, a set's list
copied), and the stream record of the put shares them as its new image, as before. The size limit
is kept as above: a request body over the limit has its items' JSON measured, and an item whose JSON
is over it is built and summed the moto way.

(The sizes of a put's key attributes are measured in ``infra.local_moto_puts``.)
"""

from __future__ import annotations

import json
import threading
from typing import Any

from infra.moto_patches import Patches

_patches = Patches()
ITEM_LIMIT = 405_000  # moto's own figure (DynamoDB's 400 KB, measured between 409 and 410 KB)
BODY_BOUNDS_ITEMS = frozenset({"PutItem", "BatchWriteItem", "TransactWriteItems"})
_REQUEST = threading.local()  # .small_body: the running write's body is within ITEM_LIMIT
_PUT = threading.local()  # .running: in Table.put_item; .item/.attrs: the item it built, from what
_SETS = frozenset({"SS", "NS", "BS"})
_PLAIN = frozenset({"S", "N"})  # kinds whose text moto keeps as it is
_BY_VALUE = frozenset({"S", "B", "BOOL"})  # kinds whose cast_value is their value


def install() -> None:
    """Patch moto's DynamoDB ``Item`` in this process (idempotent)."""
    if _patches.installed:
        return
    from moto.dynamodb.exceptions import ItemSizeTooLarge, MockValidationException
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.models.utilities import bytesize
    from moto.dynamodb.responses import DynamoHandler

    odd = threading.local()  # per server thread: two requests' items are built at once
    typed_value = make_typed_value(odd)

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        odd.seen = False
        typed = {key: typed_value(value) for key, value in attrs.items()}
        checked = getattr(_REQUEST, "small_body", False) or _within_limit_as_json(attrs)
        if not checked and sum(bytesize(k) + v.size() for k, v in typed.items()) > ITEM_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = new_attrs(LimitedSizeDict)
        dict.update(self.attrs, typed)  # no per-key re-check: the total was checked above
        if getattr(_PUT, "running", False) and not odd.seen and type(attrs) is dict:
            _PUT.item, _PUT.attrs = self, attrs

    put_item = Table.put_item

    def put_item_noting_new(self: Any, *args: Any, **kwargs: Any) -> Any:
        _PUT.running = True
        try:
            return put_item(self, *args, **kwargs)
        finally:
            _PUT.running = False
            _PUT.item = _PUT.attrs = None

    call_action = DynamoHandler.call_action

    def call_action_noting_body(self: Any) -> Any:
        raw = getattr(self, "raw_body", None)
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8")) if isinstance(raw, str) else None
        _REQUEST.small_body = size is not None and size <= ITEM_LIMIT and self._get_action() in BODY_BOUNDS_ITEMS
        try:
            return call_action(self)
        finally:
            _REQUEST.small_body = False

    from moto.dynamodb.models import DynamoDBBackend

    backend_query = DynamoDBBackend.query

    def query_answering_raw(self: Any, *args: Any, **kwargs: Any) -> Any:
        # called by DynamoHandler.query alone, which reads nothing of the items but their attrs
        items, scanned_count, last_evaluated_key = backend_query(self, *args, **kwargs)
        answered = []
        for item in items:
            raw = request_attrs(item)
            answered.append(item if raw is None else RawAnswer(raw))
        return answered, scanned_count, last_evaluated_key

    key_value = make_typed_value()

    def get_keys_value(self: Any, table: Any, keys: dict[str, Any]) -> tuple[Any, Any]:
        # moto's DynamoDBBackend.get_keys_value (GetItem, DeleteItem, UpdateItem, a transaction's
        # look-ups), its key values built directly as above
        if table.hash_key_attr not in keys or (table.has_range_key and table.range_key_attr not in keys):
            raise MockValidationException("Validation Exception")
        hash_key = key_value(keys[table.hash_key_attr])
        range_key = key_value(keys[table.range_key_attr]) if table.range_key_attr else None
        return hash_key, range_key

    _patches.replace(DynamoDBBackend, "get_keys_value", get_keys_value)
    _patches.replace(DynamoDBBackend, "query", query_answering_raw)
    _patches.replace(Item, "__init__", __init__)
    _patches.replace(DynamoHandler, "call_action", call_action_noting_body)
    _patches.replace(Table, "put_item", put_item_noting_new)

    moto_hash, moto_eq = DynamoType.__hash__, DynamoType.__eq__

    def __hash__(self: Any) -> int:
        kind = self.type
        return hash((kind, self.value)) if kind in _BY_VALUE else moto_hash(self)

    def __eq__(self: Any, other: Any) -> bool:
        if type(other) is DynamoType:
            kind = self.type
            if kind != other.type:
                return False
            if kind in _BY_VALUE:
                return self.value == other.value
        return moto_eq(self, other)

    _patches.replace(DynamoType, "__hash__", __hash__)
    _patches.replace(DynamoType, "__eq__", __eq__)


def lazy_item(hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> Any:
    """A stored item of ``Table.put_item`` whose moto values are built when first read (see module).
    ``attrs``: a put's attributes that ``infra.local_moto_puts.provably_lazy`` proved plain and built
    directly. An item whose size this cannot bound without its values is built as moto builds it."""
    if not (getattr(_REQUEST, "small_body", False) or _within_limit_as_json(attrs)):
        from moto.dynamodb.models.dynamo_type import Item

        return Item(hash_key, range_key, attrs)  # the exact sum, and its error
    lazy_class = _lazy_class()
    item = _object_new(lazy_class)
    _LAZY[1].instances_tracked.append(item)  # as moto's models' __new__ tracks every Item
    item.hash_key = hash_key
    item.range_key = range_key
    item._request_attrs = attrs
    if getattr(_PUT, "running", False):
        _PUT.item, _PUT.attrs = item, attrs
    return item


_object_new = object.__new__
_LAZY: list[Any] = []  # [LazyItem, moto's Item], made once moto is imported


def _lazy_class() -> Any:
    """moto's ``Item`` whose ``attrs`` are built from its put's attributes on first access."""
    if _LAZY:
        return _LAZY[0]
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    typed_value = make_typed_value()

    def __getattr__(self: Any, name: str) -> Any:
        if name != "attrs":
            raise AttributeError(name)
        state = self.__dict__
        raw = state.get("_request_attrs")
        if raw is None:
            raise AttributeError(name)
        attrs = new_attrs(LimitedSizeDict)
        dict.update(attrs, {key: typed_value(value) for key, value in raw.items()})
        state["attrs"] = attrs
        state.pop("_request_attrs", None)
        return attrs

    def describe_attrs(self: Any, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
        # moto's Item.describe_attrs (GetItem, BatchGetItem, TransactGetItems answers), from the
        # attributes while they are not built: the same answer once made plain (as ``RawAnswer``)
        raw = self.__dict__.get("_request_attrs")
        if raw is None:
            return Item.describe_attrs(self, attributes)
        if attributes:
            return {"Item": PlainAttrs((key, value) for key, value in raw.items() if key in attributes)}
        return {"Item": PlainAttrs(raw)}

    # made by ``type.__new__``: moto's model metaclass would register the subclass as a model of its own
    lazy_class = type.__new__(
        type(Item),
        "LazyItem",
        (Item,),
        {
            "__module__": __name__,
            "__qualname__": "LazyItem",
            "__getattr__": __getattr__,
            "describe_attrs": describe_attrs,
            "__doc__": "A moto ``Item`` stored with the request attributes it was put with "
            "(``_request_attrs``); its ``attrs`` are built the first time anything reads them, as "
            "``Item.__init__``'s direct build would have, and kept; the attributes are then forgotten.",
        },
    )
    _LAZY.extend((lazy_class, Item))
    return lazy_class


def request_attrs(item: Any) -> dict[str, Any] | None:
    """The request attributes a stored item is still kept as (``lazy_item``, its moto values not yet
    built), or None. They are plain ``{type: value}`` values without binary ones (the proof), and
    shared: never to be changed."""
    state = getattr(item, "__dict__", None)
    return None if state is None else state.get("_request_attrs")


class PlainAttrs(dict):  # type: ignore[type-arg]
    """An unbuilt item's request attributes (or some of them) as an answer holds them: already the
    plain ``{type: value}`` values that moto's ``dynamo_to_dict`` would make of the built item (no
    binary value, by the proof), so ``infra.local_moto_results`` hands them on as they are instead of
    walking them into an equal copy (a Query page of 1 MB was ~1,500 contacts walked value by value).
    Its members are the stored item's own: never to be changed."""

    __slots__ = ()


class RawAnswer:
    """Stands for a stored item in a Query's answer: ``attrs`` its request attributes, which
    ``DynamoHandler.query`` puts in the answer as it would put the item's moto values (the answer
    is made plain and dumped as JSON: the same text, as the attributes are what the values were
    built from). The stored item stays unbuilt."""

    __slots__ = ("attrs",)

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = PlainAttrs(attrs)


def new_image(item: Any) -> dict[str, Any] | None:
    """The stream image of ``item`` (``item.to_json()["Attributes"]``) when it is the item that the
    running ``Table.put_item`` has just built from a request's attributes: those attributes
    themselves (see module); else None."""
    return _PUT.attrs if getattr(_PUT, "item", None) is item else None


def make_typed_value(odd: Any = None) -> Any:
    """A builder of moto's ``DynamoType`` values equal to ``DynamoType(value)`` (see module). A set's
    list is copied (moto's value shares the request's list), so the value shares no container with
    the request. ``odd.seen`` is set when a value is built by moto's ``DynamoType`` or holds binary
    text (whose stream image moto decodes); ``odd`` is the caller's ``threading.local``, as the
    server's threads build items at the same time."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    new = object.__new__
    odd = odd if odd is not None else threading.local()

    def typed_value(value: Any) -> Any:
        if type(value) is not dict or len(value) != 1:
            odd.seen = True
            return DynamoType(value)
        ((kind, raw),) = value.items()
        if kind == "M":
            if type(raw) is not dict:
                odd.seen = True
                return DynamoType(value)
            members = {}
            for key, member in raw.items():  # a map's text and number members built here, the rest by a call
                if type(member) is dict and len(member) == 1:
                    ((member_kind, member_raw),) = member.items()
                    if member_kind in _PLAIN and type(member_raw) is str:
                        typed = new(DynamoType)
                        typed.type = member_kind
                        typed.value = member_raw
                        members[key] = typed
                        continue
                members[key] = typed_value(member)
            raw = members
        elif kind == "L":
            if type(raw) is not list:
                odd.seen = True
                return DynamoType(value)
            raw = [typed_value(member) for member in raw]
        elif kind in _SETS:
            if type(raw) is list:
                raw = list(raw)
        elif kind == "B" and type(raw) is not bytes:
            odd.seen = True
        typed = new(DynamoType)
        typed.type = kind
        typed.value = raw
        return typed

    return typed_value


def new_attrs(cls: Any) -> Any:
    """An empty ``LimitedSizeDict`` without its Python ``__init__`` (as moto's ``Item.__deepcopy__``)."""
    attrs = cls.__new__(cls)
    dict.__init__(attrs)
    return attrs


def _within_limit_as_json(attrs: dict[str, Any]) -> bool:
    try:
        return len(json.dumps(attrs)) <= ITEM_LIMIT
    except (TypeError, ValueError):  # bytes, Decimal, DynamoType: not plain JSON
        return False


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
