"""moto's DynamoDB item answers (reads and writes) dumped as JSON, with the same content.

moto 5 passes every answer through a generic, shape-driven serializer that looks each attribute
up by several candidate names: for a Query of 1,000 contacts that costs more than finding them. An
export patches the snapshot with the contacts changed since it (a GSI Query), and on moto that
serializer was two thirds of the export's time. The answers of the item reads and writes
are plain DynamoDB JSON (the items' ``{"S": ...}`` maps, counts, keys, capacity, unprocessed
requests), so they are dumped as JSON the way DynamoDB sends them: binary values base64, timestamps
epoch seconds, absent values left out. The writes' answers are small, but the demo's first run sends
~5,000 BatchWriteItem requests, and the serializer was a fifth of moto's time per request beyond the
items' own work. Every other operation, and every error, keeps moto's serializer.

Absent values (``None`` members) are left out by a walk of the answer that copies every dict and
list, items included: for a Query page that second walk was about a fifth of the handler's time.
An answer holds a ``None`` only where its JSON text holds ``null`` (a text value that spells "null"
shows it too, inside quotes), so the answer is dumped as it is first and walked only when its text
says ``null``: the same text either way.

Every answer of every service (moto's ``BaseResponse._enrich_response``) is then searched by a regular
expression for an XML ``<RequestId>`` element to put the request id in: the pattern starts with a
look-behind, so the search tries it at every character of the body. For the JSON answers of DynamoDB
and its streams (a 1 MB Query page, a GetRecords of a thousand images) that search was about a tenth
of the moto server's CPU on the demo. A body without the text ``<RequestId>`` cannot match, and is
returned as it is, after the same headers work (status, request id) on an empty body; any other body
keeps moto's search.
"""

from __future__ import annotations

import base64
import calendar
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from infra.moto_patches import Patches

READS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem"})
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
AS_JSON = READS | WRITES
_patches = Patches()


class _WireEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, bytes):
            return base64.b64encode(o).decode("ascii")
        if isinstance(o, datetime):  # epoch seconds, truncated to the millisecond as moto's serializer does
            return calendar.timegm(o.timetuple()) + (o.microsecond // 1000) / 1000.0
        if isinstance(o, Decimal):
            return float(o)
        return super().default(o)


def _present(value: Any) -> Any:
    """Without the ``None`` members (the serializer leaves absent members out)."""
    if isinstance(value, dict):
        return {k: _present(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_present(v) for v in value]
    return value


def _dumped(result: Any) -> str:
    """The answer's JSON without its ``None`` members, walked for them only when it has any (see module)."""
    body = json.dumps(result, cls=_WireEncoder, separators=(",", ":"))
    if "null" in body:
        body = json.dumps(_present(result), cls=_WireEncoder, separators=(",", ":"))
    return body


def make_enrich_response(enrich_response: Any) -> Any:
    """moto's ``_enrich_response`` (given), with a body that holds no ``<RequestId>`` not searched."""

    def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if type(body) is str and "<RequestId>" not in body:
            headers, _ = enrich_response(headers, "")  # the status and request id headers, as for any body
            return headers, body  # what the search gives back when it finds no element
        return enrich_response(headers, body)

    return _enrich_response


def install() -> None:
    """Patch moto's DynamoDB answers in this process (idempotent)."""
    if _patches.installed:
        return
    from moto.core.responses import BaseResponse
    from moto.dynamodb.responses import DynamoResult

    enrich = make_enrich_response(BaseResponse._enrich_response)
    _patches.replace(BaseResponse, "_enrich_response", staticmethod(enrich))

    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name not in AS_JSON:
            return original(self, context)
        body = _dumped(self.result)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    _patches.replace(DynamoResult, "execute_result", execute_result)


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
