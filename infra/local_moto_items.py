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

Every put also checks the sizes of the item's key attributes (table and index keys) by building a
moto value of each, which cost as much as building the item; a string or number key is measured
directly (moto's measure: UTF-8 bytes of a string, characters of a number), any other the moto way.
"""

from __future__ import annotations

import json
from typing import Any

from infra.moto_patches import Patches

_patches = Patches()
ITEM_LIMIT = 405_000  # moto's own figure (DynamoDB's 400 KB, measured between 409 and 410 KB)


def install() -> None:
    """Patch moto's DynamoDB ``Item`` in this process (idempotent)."""
    if _patches.installed:
        return
    from moto.dynamodb.exceptions import HashKeyTooLong, ItemSizeTooLarge, RangeKeyTooLong
    from moto.dynamodb.limits import HASH_KEY_MAX_LENGTH, RANGE_KEY_MAX_LENGTH
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.models.utilities import bytesize

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        typed = {key: DynamoType(value) for key, value in attrs.items()}
        if not _within_limit_as_json(attrs) and sum(bytesize(k) + v.size() for k, v in typed.items()) > ITEM_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, typed)  # no per-key re-check: the total was checked above

    def key_size(value: Any) -> int:
        if isinstance(value, dict) and len(value) == 1:
            (kind, raw), = value.items()
            if kind == "S" and isinstance(raw, str):
                return len(raw.encode("utf-8"))
            if kind == "N" and isinstance(raw, str):
                return len(raw)
        return DynamoType(value).size()

    def _validate_key_sizes(self: Any, item_attrs: dict[str, Any]) -> None:
        for names, limit, error in ((self.hash_key_names, HASH_KEY_MAX_LENGTH, HashKeyTooLong),
                                    (self.range_key_names, RANGE_KEY_MAX_LENGTH, RangeKeyTooLong)):
            for name in names:
                value = item_attrs.get(name)
                if value and key_size(value) > limit:
                    raise error

    _patches.replace(Item, "__init__", __init__)
    _patches.replace(Table, "_validate_key_sizes", _validate_key_sizes)


def _within_limit_as_json(attrs: dict[str, Any]) -> bool:
    try:
        return len(json.dumps(attrs)) <= ITEM_LIMIT
    except (TypeError, ValueError):  # bytes, Decimal, DynamoType: not plain JSON
        return False


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
