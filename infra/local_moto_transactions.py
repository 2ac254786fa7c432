"""moto's TransactWriteItems made fit for bulk writes on the local stack, with the same semantics.

moto 5 backs up every table a transaction touches with ``copy.deepcopy`` before applying it, so it
can roll back when a condition fails: each call costs time in proportion to the whole table (about a
second per call at 100,000 items, where DynamoDB's cost follows the call's own items), and nothing
locks it (two concurrent transactions restore each other's backups). The importer writes contacts in
transactions of up to 100 items, so on an unpatched moto an import slows down as the tenant grows.

This keeps moto's own code for every check and write and replaces only the backup: the items the
call names are saved (one item each) under a lock, and put back when the call is cancelled, with
the stream records the cancelled writes produced dropped, as DynamoDB never emits them.

On moto 5.2.5 the transaction's loop itself is followed step for step (``_transact_write_items``)
so that the journal is kept as it goes: each item is saved just before it is written, from the
look-up the loop makes anyway (a Put or Delete replaces the stored item object and never changes
it, so the object itself is its backup; an Update changes it in place and is copied), where
saving them beforehand looked every item up and copied it a second time. And a Put whose
condition the loop has just found true on the same item is not handed the condition again
(moto's ``put_item`` looked the item up and evaluated it a second time, to the same answer). Any
other moto keeps its own loop with the journal around it.

moto also parses each condition expression three times per item (validation, the transaction's
check, the write's own check), about 1 ms each: a parsed condition is reused for the same
expression, names and values (the parse tree only reads the item it is evaluated on), looked up by
their ``repr`` (cheaper than a JSON dump of them, which cost more than a third of the look-up). A write
without a condition (every BatchWriteItem put) asks the parser too: moto's own parser answers that
at once, so it is not looked up (building the look-up key cost more than the answer).
"""

from __future__ import annotations

import copy
import threading
from importlib.metadata import version
from typing import Any

_LOCK = threading.RLock()
_STATE = threading.local()
_originals: list[tuple[Any, str, Any]] = []  # (module or class, attribute, original value)
_PARSED_LIMIT = 10_000
LOOP_OF_MOTO = "5.2.5"  # the moto whose transaction loop ``_transact_write_items`` follows


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

    def transact_write_items_journaled(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _LOCK:
            return _transact_write_items(self, transact_items)

    _replace(models, "copy", _BackupsAreJournals())
    if version("moto") == LOOP_OF_MOTO:
        _replace(models.DynamoDBBackend, "transact_write_items", transact_write_items_journaled)
    else:  # another moto: its own loop, with the journal around it
        _replace(models.DynamoDBBackend, "transact_write_items", transact_write_items)
    _reuse_parsed_conditions()


def _transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's ``DynamoDBBackend.transact_write_items``, step for step, with two changes: each
    item is saved before it is written (the journal, instead of copies of the tables), and a Put
    whose condition was just found true is not checked a second time by ``put_item``."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    saved: list[tuple[Any, ...]] = []  # (table name, key, item before) of every write, in order
    streams = {
        name: len(table.stream_shard.items)
        for name, table in backend.tables.items()
        if table.stream_shard is not None
        and any(op.get("TableName") == name for entry in transact_items for op in entry.values())
    }
    target_items: set[tuple[str, Any]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), _key_text(key))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[Any, Any, Any]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")
            if op_type == "Put":
                attrs = op["Item"]
                table = backend.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            current = backend.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression, expression_attribute_names, expression_attribute_values
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type == "Put":
                # a Put replaces the stored item (never changes it): the item itself is its backup
                saved.append((table_name, key, current))
                backend.put_item(table_name, attrs)  # the condition held on this very item just now
            elif op_type == "Delete":
                saved.append((table_name, key, current))
                backend.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                saved.append((table_name, key, copy.deepcopy(current)))  # an update changes the item in place
                backend.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            _put_back(backend, saved, streams)
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - as moto: any other failure is the item's reason
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        _put_back(backend, saved, streams)
        raise TransactionCanceledException(errors)


def _key_text(key: dict[str, Any]) -> Any:
    """What moto compares two keys of a transaction by (``str(dict(sorted(key.items())))``), or, for
    a key of plain ``{type: text}`` values, the tuple of its sorted names, types and texts, which is
    equal for two such keys exactly when their texts are (the text of a key of other values never
    equals a plain key's, and is compared as moto's)."""
    plain = []
    for name, value in key.items():
        if type(value) is not dict or len(value) != 1:
            return str(dict(sorted(key.items())))
        ((kind, raw),) = value.items()
        if type(raw) is not str or type(name) is not str:
            return str(dict(sorted(key.items())))
        plain.append((name, kind, raw))
    plain.sort()
    return tuple(plain)


def _put_back(backend: Any, saved: list[tuple[Any, ...]], streams: dict[str, int]) -> None:
    """Undo a cancelled transaction's writes (last first) and drop the stream records they made."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    journal: list[tuple[Any, ...]] = []
    for table_name, key, old in saved:
        table = backend.tables[table_name]
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        journal.append((table, hash_key, range_key, old))
    _restore(backend, [*journal, ("streams", streams)])


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

    def create_condition_expression_parser(expr: Any, names: Any, values: Any) -> Any:
        if not expr:  # no condition: moto's parser answers "always true" without reading anything
            return factory(expr, names, values)
        key = (expr, repr(names), repr(values))  # equal texts: equal expressions, names and values
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
