"""moto's TransactWriteItems made fit for bulk writes on the local stack, with the same semantics.

moto 5 backs up every table a transaction touches with ``copy.deepcopy`` before applying it, so it
can roll back when a condition fails: each call costs time in proportion to the whole table (about a
second per call at 100,000 items, where DynamoDB's cost follows the call's own items), and nothing
locks it (two concurrent transactions restore each other's backups). The importer writes contacts in
transactions of up to 100 items, so on an unpatched moto an import slows down as the tenant grows.

This keeps moto's own code for every check and write and replaces only the backup: the items the
call names are saved (one item each) under a lock, and put back when the call is cancelled, with
the stream records the cancelled writes produced dropped, as DynamoDB never emits them.

moto also parses each condition expression three times per item (validation, the transaction's
check, the write's own check), about 1 ms each: a parsed condition is reused for the same
expression, names and values (the parse tree only reads the item it is evaluated on).
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

_LOCK = threading.RLock()
_STATE = threading.local()
_originals: list[tuple[Any, str, Any]] = []  # (module or class, attribute, original value)
_PARSED_LIMIT = 10_000


class _BackupsAreJournals:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: while a patched
    transaction runs, "backing up" a table returns the table itself (the journal does the work)."""

    def __init__(self) -> None:
        from moto.dynamodb.models.table import Table

        self._table = Table

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(_STATE, "journaling", False) and isinstance(value, self._table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def install() -> None:
    """Patch moto's DynamoDB backend in this process (idempotent)."""
    if _originals:
        return
    import moto.dynamodb.models as models

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _LOCK:
            journal = _journal(self, transact_items)
            _STATE.journaling = True
            try:
                return original(self, transact_items)
            except Exception:
                _restore(self, journal)
                raise
            finally:
                _STATE.journaling = False

    _replace(models, "copy", _BackupsAreJournals())
    _replace(models.DynamoDBBackend, "transact_write_items", transact_write_items)
    _reuse_parsed_conditions()


def uninstall() -> None:
    """Give moto its own code back (tests that install the patch in a shared process)."""
    while _originals:
        owner, name, value = _originals.pop()
        setattr(owner, name, value)


def _replace(owner: Any, name: str, value: Any) -> None:
    _originals.append((owner, name, getattr(owner, name)))
    setattr(owner, name, value)


class _ParsedOnce:
    """What moto's condition parser offers its callers (``parse()`` and the ``expr_attr_*_found``
    lists), parsed at most once per distinct expression, names and values."""

    def __init__(self, parsers: dict[str, Any], factory: Any, key: str, args: tuple[Any, ...]) -> None:
        self._parsers, self._factory, self._key, self._args = parsers, factory, key, args
        self.expr_attr_names_found: list[str] = []
        self.expr_attr_values_found: list[str] = []

    def parse(self) -> Any:
        hit = self._parsers.get(self._key)
        if hit is None:
            parser = self._factory(*self._args)
            op = parser.parse()  # a bad expression raises here, as before
            found = {name: list(value) for name, value in vars(parser).items() if name.endswith("_found")}
            hit = (op, found)
            if len(self._parsers) >= _PARSED_LIMIT:
                self._parsers.clear()
            self._parsers[self._key] = hit
        for name, value in hit[1].items():
            setattr(self, name, list(value))
        return hit[0]


def _reuse_parsed_conditions() -> None:
    import moto.dynamodb.comparisons as comparisons
    import moto.dynamodb.models as models
    import moto.dynamodb.responses as responses

    factory = comparisons.create_condition_expression_parser
    parsers: dict[str, Any] = {}

    def create_condition_expression_parser(expr: Any, names: Any, values: Any) -> _ParsedOnce:
        key = json.dumps([expr, names, values], sort_keys=True, default=str)
        return _ParsedOnce(parsers, factory, key, (expr, names, values))

    for module in (comparisons, models, responses):
        _replace(module, "create_condition_expression_parser", create_condition_expression_parser)


def _journal(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved: list[tuple[Any, ...]] = []
    streams: dict[str, int] = {}
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            attrs = op["Item"] if op_type == "Put" else op.get("Key", {})
            if table.hash_key_attr not in attrs:
                continue
            hash_key = DynamoType(attrs[table.hash_key_attr])
            range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr in attrs else None
            complete_key = range_key is not None or not table.range_key_attr
            current = table.get_item(hash_key, range_key) if complete_key else None
            saved.append((table, hash_key, range_key, copy.deepcopy(current)))
            if table.stream_shard is not None and table.name not in streams:
                streams[table.name] = len(table.stream_shard.items)
    saved.append(("streams", streams))
    return saved


def _restore(backend: Any, journal: list[tuple[Any, ...]]) -> None:
    *items, (_, streams) = journal
    for table, hash_key, range_key, old in reversed(items):
        if range_key is not None:
            bucket = table.items[hash_key]
            if old is None:
                bucket.pop(range_key, None)
            else:
                bucket[range_key] = old
        elif old is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = old
    for name, length in streams.items():
        shard = backend.tables[name].stream_shard
        if shard is not None:
            del shard.items[length:]
