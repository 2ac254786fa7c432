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
"""

from __future__ import annotations

import json
from typing import Any

from infra.local_moto_requests import ITEM_OPERATIONS
from infra.moto_patches import Patches

_patches = Patches()
_FALL_BACK = ('"B":', '"BS":', " null", "[null")  # binary values; a None botocore might refuse


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
        text = json.dumps(parameters, default=_refuse)
    except (_NotPlain, ValueError):
        return None
    if any(mark in text for mark in _FALL_BACK):
        return None
    return text.encode("utf-8")


def install() -> None:
    """Patch botocore's JSON serializer in this process (idempotent)."""
    if _patches.installed:
        return
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


def uninstall() -> None:
    """Give botocore its own code back."""
    _patches.restore()
