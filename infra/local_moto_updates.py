"""moto's UpdateItem of plain ``SET #name = :value`` assignments applied directly, with the same outcome.

moto 5 runs every update expression through its general machinery: parse the expression into a
tree, deep-copy the tree, and walk it with ten validating processors (a second time when the item is
new), then with an executor. For the update that the contact stream makes for every contact it sees
(its watermark claim, ``SET #0 = :0`` under a condition, in transactions of 100) that walk was half
of the moto server's time while the demo's stream caught up with the import.

This takes the direct way only for expressions made of nothing but ``#placeholder = :placeholder``
assignments (what pynamodb sends for attribute sets), every name and value defined, the names
distinct and none of them a key attribute of the table or of an index (those are what the skipped
validators check) and values of plain scalar types; anything else, and every ``Expected`` or
``AttributeUpdates`` call, keeps moto's own code. The direct way does what moto does, in its order:
look the item up, check the condition with moto's parser, create the keys-only item when absent,
assign each value (moto's item-size check on each assignment), then one stream record.

moto's handler also parses each update expression of a request before the backend sees it (to
check the names it uses), about a millisecond each: a transaction of 100 claims parsed the same
``SET #0 = :0`` 100 times. A parsed expression is kept per expression text and shared: the handler
only searches the tree, and moto's validator works on its own deep copy of it (copying it each time
here cost as much as parsing); an expression that does not parse raises as before and is not kept.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from infra.moto_patches import Patches

_patches = Patches()
_ASSIGNMENT = r"#[A-Za-z0-9_]+\s*=\s*:[A-Za-z0-9_]+"
_PLAIN_SET = re.compile(rf"\s*SET\s+{_ASSIGNMENT}(\s*,\s*{_ASSIGNMENT})*\s*")
_PAIR = re.compile(r"(#[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)")
_SCALARS = {"S": str, "N": str, "BOOL": bool}
_PARSED_LIMIT = 10_000


def plain_assignments(
    expression: str | None, names: dict[str, str] | None, values: dict[str, Any] | None
) -> list[tuple[str, dict[str, Any]]] | None:
    """``[(attribute name, value)]`` when the expression is only ``SET #a = :b, ...`` with every
    placeholder defined, distinct names and scalar values; None when moto must judge it."""
    if not expression or not _PLAIN_SET.fullmatch(expression) or names is None or values is None:
        return None
    plan: list[tuple[str, dict[str, Any]]] = []
    for name_ref, value_ref in _PAIR.findall(expression):
        name, value = names.get(name_ref), values.get(value_ref)
        if not isinstance(name, str) or not isinstance(value, dict) or len(value) != 1:
            return None
        ((kind, raw),) = value.items()
        if kind not in _SCALARS or not isinstance(raw, _SCALARS[kind]) or (kind == "N" and not raw):
            return None
        plan.append((name, value))
    if len({name for name, _ in plan}) != len(plan):
        return None  # overlapping paths: moto's error
    return plan


def install() -> None:
    """Patch moto's DynamoDB backend in this process (idempotent)."""
    if _patches.installed:
        return
    import moto.dynamodb.models as models
    from moto.dynamodb.exceptions import ConditionalCheckFailed, ItemSizeTooLarge, ItemSizeToUpdateTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType

    backend_class = models.DynamoDBBackend
    original = backend_class.update_item

    def update_item(
        self: Any,
        table_name: str,
        key: dict[str, dict[str, Any]],
        update_expression: str,
        expression_attribute_names: dict[str, Any],
        expression_attribute_values: dict[str, Any],
        attribute_updates: dict[str, Any] | None = None,
        expected: dict[str, Any] | None = None,
        condition_expression: str | None = None,
        return_values_on_condition_check_failure: str | None = None,
    ) -> Any:
        plan = None
        if not attribute_updates and not expected:
            plan = plain_assignments(update_expression, expression_attribute_names, expression_attribute_values)
        table = self.tables.get(table_name) if plan is not None else None
        if (
            table is None
            or table.hash_key_attr not in key
            or any(
                name in table.attribute_keys or any(a["AttributeName"] == name for a in table.attr) for name, _ in plan
            )
        ):
            return original(
                self,
                table_name,
                key,
                update_expression,
                expression_attribute_names,
                expression_attribute_values,
                attribute_updates=attribute_updates,
                expected=expected,
                condition_expression=condition_expression,
                return_values_on_condition_check_failure=return_values_on_condition_check_failure,
            )
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
        item = table.get_item(hash_value, range_value)
        orig_item = copy.deepcopy(item) if table.stream_shard is not None else None  # only a stream shows it
        condition = models.create_condition_expression_parser(
            condition_expression, expression_attribute_names, expression_attribute_values
        ).parse()
        if not condition.expr(item):
            if return_values_on_condition_check_failure == "ALL_OLD" and item is not None:
                raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
            raise ConditionalCheckFailed
        if item is None:  # an update creates the item it names, as moto does: its keys first
            data = {table.hash_key_attr: {hash_value.type: hash_value.value}}
            if range_value:
                data[table.range_key_attr] = {range_value.type: range_value.value}
            table.put_item(data)
            item = table.get_item(hash_value, range_value)
        try:
            for name, value in plan:
                item.attrs[name] = DynamoType(value)  # moto's size check on each assignment
        except ItemSizeTooLarge:
            raise ItemSizeToUpdateTooLarge() from None
        if table.stream_shard is not None:
            table.stream_shard.add(orig_item, item)
        return item

    _patches.replace(backend_class, "update_item", update_item)
    _parse_each_expression_once()


def _parse_each_expression_once() -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    make = UpdateExpressionParser.make
    parsed: dict[str, Any] = {}

    def make_once(cls: Any, expression_str: str) -> Any:
        tree = parsed.get(expression_str)
        if tree is None:
            tree = make(expression_str)  # raises for a bad expression, which is not kept
            if len(parsed) >= _PARSED_LIMIT:
                parsed.clear()
            parsed[expression_str] = tree
        return tree

    _patches.replace(UpdateExpressionParser, "make", classmethod(make_once))


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
