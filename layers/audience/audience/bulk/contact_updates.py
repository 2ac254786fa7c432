"""Set fields on many contacts: one conditional UpdateItem per contact, several in flight at once.

A mass update touches only the given fields, so it must not rewrite whole items (that would race
with a concurrent import or API write). Each update changes ``fields.<name>`` in place, stamps
``updated_at`` (and the ``by_updated`` index key, so the next incremental snapshot sees it), bumps
``version`` (so a concurrent versioned write notices), and is conditional on the contact existing
and not being erased. The contacts stream then re-checks real-time memberships as for any change.
Email and phone are never set here (see ``bulk.request``), so no unique keys are involved.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from audience.storage.attributes import to_dynamo
from audience.storage.base import now_iso

WORKERS = 8
_serializer = TypeSerializer()


def update_expression(changes: dict[str, Any], stamp: str, contact_id: str) -> dict[str, Any]:
    """The UpdateItem arguments (expression, names, values) for one contact."""
    names = {"#f": "fields", "#u": "updated_at", "#g": "gsi1sk", "#v": "version", "#e": "erased"}
    values: dict[str, Any] = {":now": stamp, ":gsi": f"{stamp}#{contact_id}", ":one": 1, ":false": False}
    sets, removes = ["#u = :now", "#g = :gsi", "#v = if_not_exists(#v, :zero) + :one"], []
    values[":zero"] = 0
    for index, (name, value) in enumerate(sorted(changes.items())):
        names[f"#a{index}"] = name
        if value is None:
            removes.append(f"#f.#a{index}")
        else:
            values[f":v{index}"] = value
            sets.append(f"#f.#a{index} = :v{index}")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return {
        "UpdateExpression": expression,
        "ConditionExpression": "attribute_exists(#f) AND (attribute_not_exists(#e) OR #e = :false)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {k: _serializer.serialize(to_dynamo(v)) for k, v in values.items()},
    }


def set_fields(
    ddb: Any, table: str, tenant: str, contact_ids: Iterable[str], changes: dict[str, Any]
) -> tuple[int, int]:
    """Apply ``changes`` to each contact; answers (updated, skipped: erased or gone meanwhile)."""
    stamp = now_iso()

    def update(contact_id: str) -> bool:
        try:
            ddb.update_item(
                TableName=table,
                Key={"pk": {"S": tenant}, "sk": {"S": contact_id}},
                **update_expression(changes, stamp, contact_id),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    ids = list(contact_ids)
    if not ids:
        return 0, 0
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(ids))) as pool:
        outcomes = list(pool.map(update, ids))
    updated = sum(outcomes)
    return updated, len(outcomes) - updated
