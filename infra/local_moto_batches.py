"""moto's BatchWriteItem handler without a JSON dump of every item, with the same checks and writes.

moto 5 refuses a BatchWriteItem whose requests repeat an item by dumping every put item (and every
delete key) to JSON and comparing the texts pairwise; it also looks its backend up again (a
registry look-up by account and region) for every item it writes. On the local stack BatchWriteItem
carries the demo's first run (~4,800 requests of 25 memberships and history entries) and the
real-time path's membership changes; the dumps and look-ups were about a tenth of moto's time per
item.

Two put items whose JSON texts are equal are equal dicts, so they have the same key attributes: when
the key values of a request's puts on one table are all distinct, no two texts can be equal and
none is dumped. Only when two puts share a key (or a key attribute is missing or not a plain
``{type: text}``) are their texts compared as moto compares them. Requests over several tables keep
moto's own handler (moto compares the items of all tables with each other). The checks (unknown
table, empty key values), their order, the writes and the answer are moto's; the answer is returned
as a ``DynamoResult`` so that ``infra.local_moto_answers`` dumps it as JSON, as it does the other
write answers (the same content as moto's serializer gives).
"""

from __future__ import annotations

from typing import Any

from infra.moto_patches import Patches

_patches = Patches()
EMPTY_KEY_MESSAGE = (
    "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an "
    "empty string value. Key: {}"
)


def key_fingerprint(item: Any, key_names: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The item's key values as a hashable tuple, or None when they are not plain ``{type: text}``."""
    if not isinstance(item, dict):
        return None
    fingerprint = []
    for name in key_names:
        value = item.get(name)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((kind, raw),) = value.items()
        if not isinstance(raw, str):
            return None
        fingerprint.append((kind, raw))
    return tuple(fingerprint)


def install() -> None:
    """Patch moto's DynamoDB handler in this process (idempotent)."""
    if _patches.installed:
        return
    from moto.dynamodb import responses
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.responses import DynamoHandler, DynamoResult, validate_put_has_empty_keys

    original = DynamoHandler.batch_write_item

    def batch_write_item(self: Any) -> Any:
        table_batches = self.body.get("RequestItems") if isinstance(self.body, dict) else None
        if not isinstance(table_batches, dict) or len(table_batches) != 1:
            return original(self)
        backend = self.dynamodb_backend
        put_requests: list[tuple[str, Any]] = []
        delete_requests: list[tuple[str, Any]] = []
        ((table_name, table_requests),) = table_batches.items()
        table = backend.get_table(table_name)
        for table_request in table_requests:
            if type(table_request) is dict and len(table_request) == 1:  # moto's first key and value
                ((request_type, request),) = table_request.items()
            else:
                request_type = list(table_request.keys())[0]
                request = list(table_request.values())[0]
            if request_type == "PutRequest":
                item = request["Item"]
                validate_put_has_empty_keys(item, table, custom_error_msg=EMPTY_KEY_MESSAGE)
                put_requests.append((table_name, item))
            elif request_type == "DeleteRequest":
                delete_requests.append((table_name, request["Key"]))
        dump = responses.dynamo_json_dump  # looked up per call, as moto's handler does
        if self._contains_duplicates([dump(k[1]) for k in delete_requests]) or _puts_repeat(
            self, put_requests, table, dump
        ):
            raise MockValidationException("Provided list of item keys contains duplicates")
        for _, item in put_requests:  # backend.put_item, on the table found above for the same name
            table.put_item(item, None, None, None, None, False, None)
        for name, keys in delete_requests:
            backend.delete_item(name, keys)
        response = {
            "ConsumedCapacity": [
                {"TableName": name, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}} for name in table_batches
            ],
            "ItemCollectionMetrics": {},
            "UnprocessedItems": {},
        }
        return DynamoResult(response)

    _patches.replace(DynamoHandler, "batch_write_item", batch_write_item)


def _puts_repeat(handler: Any, put_requests: list[tuple[str, Any]], table: Any, dump: Any) -> bool:
    """moto's duplicate check of the puts, with their JSON compared only when their keys repeat."""
    names = (table.hash_key_attr,) + ((table.range_key_attr,) if table.range_key_attr else ())
    fingerprints = [key_fingerprint(item, names) for _, item in put_requests]
    if None not in fingerprints and len(set(fingerprints)) == len(fingerprints):
        return False
    return handler._contains_duplicates([dump(item) for _, item in put_requests])


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()
