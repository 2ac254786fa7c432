"""botocore's DynamoDB item requests written with one ``json.dumps`` in the local stack's process, byte
for byte the body botocore's serializer writes.

The stack's functions run in one process and share its interpreter lock with the pollers and the
front door; on the demo about a sixth of that process's time was botocore walking every request's
parameters along the operation's input shape (``JSONSerializer._serialize``: a method lookup and a
call per attribute of every item) only to build the same nested dicts again and ``json.dumps`` them.
A BatchWriteItem of 25 memberships or a TransactWriteItems of 100 contacts walks thousands of nodes.

For the item operations of DynamoDB's JSON protocol the walk changes a value only for the binary
attribute values ``B``/``BS`` (bytes become base64 text): their inputs have no timestamps, floats or
renamed members. So their body is ``json.dumps`` of the parameters, unless the parameters hold
anything JSON cannot write as it is (bytes, sets, datetimes, decimals: refused by the encoder's
``default``), name a member the input shape lacks (botocore raises), or the written text has a
``"B":`` or ``"BS":`` key anywhere (a quote inside a string value is escaped, so only a key can) or
a ``null`` (botocore refuses a None structure); then botocore's own serializer writes it. Everything
else about the request (method, target and content type headers, host prefix) is built as botocore
builds it. On AWS the functions keep botocore's code: this is installed only by the local stack
(``infra.localstack.start``).

Answers likewise: botocore parses an item operation's answer by walking the JSON along the output
shape, which changes it only by decoding binary values (``B``/``BS``: base64 text to bytes) and by
leaving out members that are null or that the shape lacks (the outputs have no timestamps, and
doubles are kept as JSON gives them). So an answer of one of DynamoDB's item operations' output
shapes is taken as ``json.loads`` gives it when it has no ``"B":``/``"BS":`` key and no ``null``
anywhere and its top-level members are the shape's; any other answer, and every error, keeps
botocore's parser. A member the shape lacks below the top level would be kept where botocore drops
it; moto's answers have none (tests compare moto's answers parsed both ways).
"""

from __future__ import annotations

import json
from functools import cache, partial
from typing import Any

from infra.local_moto_requests import ITEM_OPERATIONS
from infra.moto_patches import Patches

_patches = Patches()
_FALL_BACK = ('"B":', '"BS":', " null", "[null")  # binary values; a None botocore might refuse
_ANSWER_FALL_BACK = (b'"B":', b'"BS":', b"null")  # binary values (base64 to decode); nulls (dropped)


class _NotPlain(TypeError):
    pass


def _refuse(value: Any) -> Any:
    raise _NotPlain(type(value).__name__)


def plain_body(parameters: dict[str, Any], operation_model: Any) -> bytes | None:
    """The body botocore would write for these parameters, when it is their JSON as it is; else None."""
    if operation_model.metadata.get("targetPrefix") != "DynamoDB_20120810":
        return None
    if operation_model.name not in ITEM_OPERATIONS:
        return None
    shape = operation_model.input_shape
    if shape is None or not parameters.keys() <= shape.members.keys():
        return None
    try:
        # No circular-reference bookkeeping (an id and a dict entry per map and list: ~20% of the
        # dump of a 99-item transaction); parameters that refer to themselves end in RecursionError
        # here, and botocore's serializer, given them instead, fails on them as it always did.
        text = json.dumps(parameters, default=_refuse, check_circular=False)
    except (_NotPlain, ValueError, RecursionError):
        return None
    if any(mark in text for mark in _FALL_BACK):
        return None
    return text.encode("utf-8")


@cache
def _item_outputs() -> dict[str, frozenset[str]]:
    """The output shapes of DynamoDB's item operations: name -> member names."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("dynamodb")
    shapes = (model.operation_model(name).output_shape for name in ITEM_OPERATIONS)
    return {shape.name: frozenset(shape.members) for shape in shapes if shape is not None}


def plain_answer(raw_body: bytes, shape: Any) -> dict[str, Any] | None:
    """What botocore's parser would make of a DynamoDB item operation's answer, when that is its JSON
    as it is; else None."""
    members = _item_outputs().get(shape.name)
    if members is None or frozenset(shape.members) != members or not raw_body.startswith(b"{"):
        return None
    if any(mark in raw_body for mark in _ANSWER_FALL_BACK):
        return None
    try:
        parsed = json.loads(raw_body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and parsed.keys() <= members else None


_UNKNOWN = object()  # a request of a shape the plain path does not vouch for: jmespath decides
_TRANSACT_WRITE_KINDS = ("ConditionCheck", "Put", "Delete", "Update")


def _transact_tables(kinds: tuple[str, ...], call_args: dict[str, Any]) -> Any:
    """``TransactItems[*].[<kind>.TableName, ...][]`` for the actions ``kinds`` (in that order)."""
    items = call_args.get("TransactItems")
    if type(items) is not list:
        return _UNKNOWN
    tables = []
    for item in items:
        if type(item) is not dict:
            return _UNKNOWN
        for kind in kinds:
            action = item.get(kind)
            if action is None:
                continue
            if type(action) is not dict:
                return _UNKNOWN
            table = action.get("TableName")
            if table is not None:
                tables.append(table)
    return tables


_transact_write_tables = partial(_transact_tables, _TRANSACT_WRITE_KINDS)
_transact_get_tables = partial(_transact_tables, ("Get",))


def _request_item_tables(call_args: dict[str, Any]) -> Any:
    """``keys(RequestItems)``"""
    items = call_args.get("RequestItems")
    return list(items) if type(items) is dict else _UNKNOWN


CONTEXT_PATHS = {
    "TransactItems[*].[ConditionCheck.TableName, Put.TableName, Delete.TableName, Update.TableName][]": (
        _transact_write_tables
    ),
    "TransactItems[*].Get.TableName": _transact_get_tables,
    "keys(RequestItems)": _request_item_tables,
}


def context_param(path: str, call_args: Any) -> Any:
    """jmespath's ``search(path, call_args)`` for the paths of ``CONTEXT_PATHS`` without jmespath;
    ``_UNKNOWN`` for any other path or a request of an unexpected shape."""
    plain = CONTEXT_PATHS.get(path)
    if plain is None or type(call_args) is not dict:
        return _UNKNOWN
    return plain(call_args)


def install() -> None:
    """Patch botocore's JSON serializer and parser, and the endpoint resolver's operation context
    parameters, in this process (idempotent)."""
    if _patches.installed:
        return
    from botocore.parsers import JSONParser
    from botocore.regions import EndpointRulesetResolver
    from botocore.serialize import JSONSerializer

    original = JSONSerializer.serialize_to_request

    def serialize_to_request(self: Any, parameters: Any, operation_model: Any) -> Any:
        body = plain_body(parameters, operation_model) if isinstance(parameters, dict) else None
        if body is None:
            return original(self, parameters, operation_model)
        serialized = self._create_default_request()
        serialized["method"] = operation_model.http.get("method", self.DEFAULT_METHOD)
        serialized["headers"] = {
            "X-Amz-Target": f"{operation_model.metadata['targetPrefix']}.{operation_model.name}",
            "Content-Type": f"application/x-amz-json-{operation_model.metadata['jsonVersion']}",
        }
        self._handle_query_compatible_trait(operation_model, serialized)
        serialized["body"] = body
        host_prefix = self._expand_host_prefix(parameters, operation_model)
        if host_prefix is not None:
            serialized["host_prefix"] = host_prefix
        return serialized

    _patches.replace(JSONSerializer, "serialize_to_request", serialize_to_request)

    handle_json_body = JSONParser._handle_json_body

    def _handle_json_body(self: Any, raw_body: Any, shape: Any) -> Any:
        parsed = plain_answer(raw_body, shape) if isinstance(raw_body, bytes) and shape is not None else None
        return handle_json_body(self, raw_body, shape) if parsed is None else parsed

    _patches.replace(JSONParser, "_handle_json_body", _handle_json_body)

    resolve_context_param = EndpointRulesetResolver._resolve_param_as_operation_context_param

    def _resolve_param_as_operation_context_param(
        self: Any, param_name: str, operation_model: Any, call_args: Any
    ) -> Any:
        params = operation_model.operation_context_parameters
        if param_name in params:
            value = context_param(params[param_name]["path"], call_args)
            if value is not _UNKNOWN:
                return value
        return resolve_context_param(self, param_name, operation_model, call_args)

    _patches.replace(
        EndpointRulesetResolver,
        "_resolve_param_as_operation_context_param",
        _resolve_param_as_operation_context_param,
    )


def uninstall() -> None:
    """Give botocore its own code back."""
    _patches.restore()
