"""moto's checks of a put item made in one tight pass each, with the same outcome (local stack only).

Every item that moto 5 stores (a BatchWriteItem or TransactWriteItems put, a PutItem) passes three
checks before it is built, and on the local stack they cost more than building and storing it: the
first run's ~120,000 memberships and history entries and the importer's contacts pay them all.

- ``validate_put_has_empty_keys`` (the handler's check that no key of the table or of an index is an
  empty text) lists the names of every key attribute of the table and its indexes (two property
  walks) and reads the type of every attribute of the item, for every item. The key names are kept
  per table here (a table's keys never change; its index list is compared by identity each time), and
  only the key attributes are read once every attribute is known to be a non-empty dict (moto reads
  the first type and value of each; anything else goes to moto's function, errors included).
- ``Table._validate_item_types`` walks every attribute by a method call per nested dict. Its refusals
  all concern a value under ``N`` (not a number), ``S`` (an int, or a dict for a key) or ``NULL``
  (``false``), at any depth of dicts. Each top-level attribute whose value is a plain one-entry
  ``{type: value}`` (text, a short decimal number, a map of such values, and the kinds moto does not
  look into: booleans, lists, sets, binary) is passed here in one loop; any other attribute, or one
  named ``N``, ``S`` or ``NULL``, is checked by moto's own method, alone and in the item's order, so
  the first refusal is moto's. A decimal text of at most 38 digits is a number moto accepts (no sign,
  no space, finite, within range): any other number is checked by moto's own ``_validate_number_type``.
  Maps deeper than 32 levels go to moto (whose recursion depth is its own).
- ``Table._validate_key_sizes`` lists the key names by the same two properties, for every item; they
  are taken from the same per-table names, and a text or number key is measured directly (moto's
  measure: UTF-8 bytes of a text, characters of a number), any other key the moto way.

``Table.put_item`` itself is moto's, with its key values built as ``DynamoType`` builds them
(``infra.local_moto_items.make_typed_value``) and its two condition parses skipped when the put has
no ``Expected`` and no condition (moto's parsers answer "always true" then without reading the item).
An item proved by ``provably_lazy`` (the same proof, in the same pass, and every value one that is
built without moto's ``DynamoType`` and holds no binary value) is stored unbuilt
(``infra.local_moto_items.lazy_item``): its values are built when something first reads them.
"""

from __future__ import annotations

import threading
from operator import is_
from typing import Any

from infra.moto_patches import Patches

_patches = Patches()
_ODD_NAMES = frozenset({"N", "S", "NULL"})  # names whose value moto checks as a number, a text, a null
_NOT_LOOKED_INTO = frozenset({"BOOL", "L", "SS", "NS", "B", "BS"})  # moto checks these only when a dict
_BINARY = frozenset({"B", "BS"})
_MAX_DEPTH = 32
_NAMES: dict[int, tuple[Any, ...]] = {}  # id(table) -> (table, indexes, hash names, range names, keys, gsi keys)
_SHAPES: dict[int, tuple[Any, ...]] = {}  # id(table) -> (table, indexes, what provably_plain needs)
_PROVEN = threading.local()  # .pairs: {(id(item attrs), id(table)): lazy?} proven plain in the running request


def _still_for(hit: tuple[Any, ...] | None, table: Any, indexes: tuple[Any, ...]) -> bool:
    """Whether a per-table cache entry ``(table, indexes, ...)`` was made for this very table and
    its index objects as they are now (an UpdateTable replaces them)."""
    return (
        hit is not None
        and hit[0] is table
        and len(hit[1]) == len(indexes)
        and all(map(is_, hit[1], indexes))  # identity, in C: a generator here was a tenth of the proof
    )


def key_names(table: Any) -> tuple[list[str], list[str], list[str], list[str]]:
    """``(hash_key_names, range_key_names, attribute_keys, GSI key names)`` of a moto table, as its
    properties give them, computed again only when the table's index objects change."""
    indexes = (*table.indexes, *table.global_indexes)
    hit = _NAMES.get(id(table))
    if not _still_for(hit, table, indexes):
        gsi_keys = [name for gsi in table.global_indexes for name in gsi.schema_key_attrs]
        hit = (table, indexes, table.hash_key_names, table.range_key_names, table.attribute_keys, gsi_keys)
        _NAMES[id(table)] = hit
    return hit[2], hit[3], hit[4], hit[5]


def _shape(table: Any) -> tuple[Any, ...]:
    """What ``provably_plain`` needs of a table: its key attributes and types, and each key attribute
    of the table and its indexes with the size limit moto checks it against."""
    from moto.dynamodb.limits import HASH_KEY_MAX_LENGTH, RANGE_KEY_MAX_LENGTH

    indexes = (*table.indexes, *table.global_indexes)
    hit = _SHAPES.get(id(table))
    if not _still_for(hit, table, indexes):
        hash_names, range_names, attribute_keys, gsi_keys = key_names(table)
        limits: dict[str, int] = {}
        for names, limit in ((hash_names, HASH_KEY_MAX_LENGTH), (range_names, RANGE_KEY_MAX_LENGTH)):
            for name in names:
                limits[name] = min(limit, limits.get(name, limit))
        for name in (*attribute_keys, *gsi_keys):  # checked for empty text even without a size limit
            limits.setdefault(name, HASH_KEY_MAX_LENGTH)
        shape = (
            table.hash_key_attr,
            table.hash_key_type,
            table.range_key_attr,
            table.range_key_type,
            tuple(limits.items()),
        )
        hit = (table, indexes, shape)
        _SHAPES[id(table)] = hit
    return hit[2]


def provably_plain(table: Any, item: Any) -> bool:
    """True when ``item`` put on ``table`` passes every check moto makes before building it: the
    handler's empty-key check and ``Table.put_item``'s key presence and types, item types and key
    sizes. Every attribute a plain ``{type: value}`` (``plainly_valid``), none named N, S or NULL,
    the table's keys present with its types, every key attribute of the table and its indexes a
    non-empty ASCII text within moto's size limit or a number of at most that many characters. False says
    nothing: moto's own checks then judge the item."""
    if type(item) is not dict:
        return False
    for name, value in item.items():
        if type(value) is not dict or len(value) != 1 or name in _ODD_NAMES:
            return False
        ((kind, raw),) = value.items()
        if kind == "S":
            if type(raw) is not str:
                return False
        elif not plainly_valid(value):
            return False
    return _keys_plain(table, item)


def provably_lazy(table: Any, item: Any) -> bool:
    """``provably_plain``, and moreover every value one that ``make_typed_value`` builds directly,
    without moto's ``DynamoType`` and without binary text (``directly_built``): such an item can be
    stored as its request's attributes and its moto values built when first read
    (``infra.local_moto_items.lazy_item``), since building them can neither fail nor differ later.
    One pass over the item; False says nothing (``provably_plain`` may still hold)."""
    if type(item) is not dict:
        return False
    for name, value in item.items():
        if type(value) is not dict or len(value) != 1 or name in _ODD_NAMES:
            return False
        ((kind, raw),) = value.items()
        if kind == "S":
            if type(raw) is not str:
                return False
        elif kind == "N":
            if type(raw) is not str or len(raw) > 38 or not raw.isdecimal():
                return False
        elif not _plain_and_direct(value, 0):
            return False
    return _keys_plain(table, item)


def _plain_and_direct(value: Any, depth: int) -> bool:
    """``plainly_valid(value, depth)`` and ``directly_built(value)`` in one walk."""
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, raw),) = value.items()
    if kind == "S":
        return type(raw) is str
    if kind == "N":
        return type(raw) is str and len(raw) <= 38 and raw.isdecimal()
    if kind == "M":
        if type(raw) is not dict or depth >= _MAX_DEPTH:
            return False
        return all(name not in _ODD_NAMES and _plain_and_direct(member, depth + 1) for name, member in raw.items())
    if kind == "L":  # moto checks no member of a list; each must only be built directly
        return type(raw) is list and depth < _MAX_DEPTH and all(directly_built(member, depth + 1) for member in raw)
    if kind in _NOT_LOOKED_INTO:  # sets and booleans; binary values are answered and streamed otherwise
        return kind not in _BINARY and type(raw) is not dict
    return kind == "NULL" and raw is True


def directly_built(value: Any, depth: int = 0) -> bool:
    """True when ``make_typed_value`` builds ``value`` without moto's ``DynamoType`` and it holds no
    binary value: a one-entry dict, a map's or list's members likewise (within 32 levels), no ``B`` or
    ``BS`` (moto answers bytes in base64 and decodes nested binary text in stream images, so an item
    holding them is not answered from its request's attributes: ``infra.local_moto_items``)."""
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, raw),) = value.items()
    if kind == "M":
        return type(raw) is dict and depth < _MAX_DEPTH and all(directly_built(m, depth + 1) for m in raw.values())
    if kind == "L":
        return type(raw) is list and depth < _MAX_DEPTH and all(directly_built(m, depth + 1) for m in raw)
    return kind not in _BINARY


def _keys_plain(table: Any, item: dict[str, Any]) -> bool:
    """The table's keys present with its types, every key of the table and its indexes within moto's
    limits (the second half of ``provably_plain``; every value already a one-entry dict)."""
    hash_attr, hash_type, range_attr, range_type, limits = _shape(table)
    hash_value = item.get(hash_attr)
    if hash_value is None or hash_type not in hash_value:
        return False
    if range_attr is not None:
        range_value = item.get(range_attr)
        if range_value is None or range_type not in range_value:
            return False
    for name, limit in limits:
        value = item.get(name)
        if value is None:
            continue
        ((kind, raw),) = value.items()
        if kind == "S":
            if not raw or not raw.isascii() or len(raw) > limit:  # other text: moto measures it (and may fail)
                return False
        elif kind != "N" or len(raw) > limit:
            return False
    return True


def _proof(item: Any, table: Any) -> bool | None:
    """How the running request proved ``item`` for ``table``: None not at all, False plain
    (``provably_plain``), True plain and built directly (``provably_lazy``)."""
    pairs = getattr(_PROVEN, "pairs", None)
    return None if pairs is None else pairs.get((id(item), id(table)))


def plainly_valid(value: Any, depth: int = 0) -> bool:
    """True when moto's ``_validate_item_types`` surely refuses nothing in ``value`` (an attribute's
    value whose name is not N, S or NULL); False when moto must judge it."""
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, raw),) = value.items()
    if kind == "S":
        return type(raw) is str
    if kind == "N":
        return type(raw) is str and len(raw) <= 38 and raw.isdecimal()
    if kind == "M":
        if type(raw) is not dict or depth >= _MAX_DEPTH:
            return False
        return all(name not in _ODD_NAMES and plainly_valid(member, depth + 1) for name, member in raw.items())
    if kind in _NOT_LOOKED_INTO:
        return type(raw) is not dict
    return kind == "NULL" and raw is True


def key_size(value: Any, typed: Any) -> int:
    """moto's size of a key value (``DynamoType(value).size()``)."""
    if type(value) is dict and len(value) == 1:
        ((kind, raw),) = value.items()
        if kind == "S" and type(raw) is str:
            return len(raw.encode("utf-8"))
        if kind == "N" and type(raw) is str:
            return len(raw)
    return typed(value).size()


def _first_empty(field_updates: dict[str, Any], names: list[str]) -> str | None:
    for name in names:
        value = field_updates.get(name)
        if value is not None:
            kind = next(iter(value))
            if kind in ("S", "B") and next(iter(value.values())) == "":
                return name
    return None


def install() -> None:
    """Patch moto's DynamoDB puts in this process (idempotent)."""
    if _patches.installed:
        return
    import moto.dynamodb.responses as responses
    from moto.dynamodb.comparisons import get_expected, get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        HashKeyTooLong,
        InvalidAttributeTypeError,
        MockValidationException,
        RangeKeyTooLong,
    )
    from moto.dynamodb.limits import HASH_KEY_MAX_LENGTH, RANGE_KEY_MAX_LENGTH
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

    from infra.local_moto_items import lazy_item, make_typed_value

    typed_value = make_typed_value()
    validate_empty_keys = responses.validate_put_has_empty_keys
    validate_item_types = Table._validate_item_types

    def validate_put_has_empty_keys(
        field_updates: dict[str, Any], table: Any, custom_error_msg: str | None = None
    ) -> None:
        lazy = bool(table) and provably_lazy(table, field_updates)
        if lazy or (table and provably_plain(table, field_updates)):
            pairs = getattr(_PROVEN, "pairs", None)
            if pairs is not None:  # inside a request: its puts of this item skip the checks just made
                pairs[(id(field_updates), id(table))] = lazy
            return None
        if (
            not table
            or type(field_updates) is not dict
            or not all(type(value) is dict and value for value in field_updates.values())
        ):
            return validate_empty_keys(field_updates, table, custom_error_msg=custom_error_msg)
        _, _, attribute_keys, gsi_keys = key_names(table)
        empty_gsi_key = _first_empty(field_updates, gsi_keys)
        if empty_gsi_key:
            gsi_name = table.global_indexes[0].name
            raise MockValidationException(
                "One or more parameter values are not valid. A value specified for a secondary index key is not "
                "supported. The AttributeValue for a key attribute cannot contain an empty string value. "
                f"IndexName: {gsi_name}, IndexKey: {empty_gsi_key}"
            )
        empty_key = _first_empty(field_updates, attribute_keys)
        if empty_key:
            msg = (
                custom_error_msg
                or "One or more parameter values were invalid: An AttributeValue may not "
                "contain an empty string. Key: {}"
            )
            raise MockValidationException(msg.format(empty_key))
        return None

    def _validate_item_types(self: Any, item_attrs: dict[str, Any], attr: str | None = None) -> None:
        if attr is not None or type(item_attrs) is not dict:
            return validate_item_types(self, item_attrs, attr)
        for key, value in item_attrs.items():
            if key in _ODD_NAMES or not plainly_valid(value):
                validate_item_types(self, {key: value})  # moto's check of this attribute, in the item's order
        return None

    def _validate_key_sizes(self: Any, item_attrs: dict[str, Any]) -> None:
        hash_names, range_names, _, _ = key_names(self)
        for names, limit, error in (
            (hash_names, HASH_KEY_MAX_LENGTH, HashKeyTooLong),
            (range_names, RANGE_KEY_MAX_LENGTH, RangeKeyTooLong),
        ):
            for name in names:
                value = item_attrs.get(name)
                if value and key_size(value, DynamoType) > limit:
                    raise error

    def put_item(
        self: Any,
        item_attrs: dict[str, Any],
        expected: dict[str, Any] | None = None,
        condition_expression: str | None = None,
        expression_attribute_names: dict[str, str] | None = None,
        expression_attribute_values: dict[str, Any] | None = None,
        overwrite: bool = False,
        return_values_on_condition_check_failure: str | None = None,
    ) -> Any:
        # moto 5.2.5's Table.put_item, step for step (see module for the two differences)
        if self.hash_key_attr not in item_attrs:
            raise MockValidationException(
                "One or more parameter values were invalid: Missing the key " + self.hash_key_attr + " in the item"
            )
        hash_value = typed_value(item_attrs[self.hash_key_attr])
        if self.range_key_attr is not None:
            if self.range_key_attr not in item_attrs:
                raise MockValidationException(
                    f"One or more parameter values were invalid: Missing the key {self.range_key_attr} in the item"
                )
            range_value = typed_value(item_attrs[self.range_key_attr])
        else:
            range_value = None
        if hash_value.type != self.hash_key_type:
            raise InvalidAttributeTypeError(
                self.hash_key_attr, expected_type=self.hash_key_type, actual_type=hash_value.type
            )
        if range_value and range_value.type != self.range_key_type:
            raise InvalidAttributeTypeError(
                self.range_key_attr, expected_type=self.range_key_type, actual_type=range_value.type
            )
        proof = _proof(item_attrs, self)
        if proof is None:
            self._validate_item_types(item_attrs)
            self._validate_key_sizes(item_attrs)
        if expected is None:
            lookup_range_value = range_value
        else:
            expected_range_value = expected.get(self.range_key_attr, {}).get("Value")
            lookup_range_value = range_value if expected_range_value is None else DynamoType(expected_range_value)
        current = self.get_item(hash_value, lookup_range_value)
        item = lazy_item(hash_value, range_value, item_attrs) if proof else Item(hash_value, range_value, item_attrs)
        if not overwrite and (expected is not None or condition_expression):
            if not get_expected(expected or {}).expr(current):
                raise ConditionalCheckFailed
            condition_op = get_filter_expression(
                condition_expression, expression_attribute_names, expression_attribute_values
            )
            if not condition_op.expr(current):
                if return_values_on_condition_check_failure == "ALL_OLD" and current is not None:
                    raise ConditionalCheckFailed(item=current.to_json()["Attributes"])
                raise ConditionalCheckFailed
        if range_value:
            self.items[hash_value][range_value] = item
        else:
            self.items[hash_value] = item
        if self.stream_shard is not None:
            self.stream_shard.add(current, item)
        return item

    call_action = responses.DynamoHandler.call_action

    def call_action_proving(self: Any) -> Any:
        _PROVEN.pairs = {}  # ids are only meaningful while the request's parameters live
        try:
            return call_action(self)
        finally:
            _PROVEN.pairs = None

    _patches.replace(responses.DynamoHandler, "call_action", call_action_proving)
    _patches.replace(responses, "validate_put_has_empty_keys", validate_put_has_empty_keys)
    _patches.replace(Table, "_validate_item_types", _validate_item_types)
    _patches.replace(Table, "_validate_key_sizes", _validate_key_sizes)
    _patches.replace(Table, "put_item", put_item)


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
    _NAMES.clear()
    _SHAPES.clear()
