"""Audit records of destructive bulk actions in MainTable (``pk = T#{tenant}``,
``sk = AUDIT#{requested_at}#{job_id}``): who asked (API key id and tenant), when, why, and how many
contacts were changed. Keyed by the job, so a redelivered job rewrites its own record instead of
adding a second one; listed in time order with a Query on ``begins_with(sk, "AUDIT#")``.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from audience.storage.attributes import from_dynamo, to_dynamo
from audience.storage.base import now_iso
from audience.storage.models import tenant_pk

PREFIX = "AUDIT#"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def record(
    ddb: Any,
    table: str,
    tenant: str,
    *,
    action: str,
    job_id: str,
    segment_id: str,
    requested_by: dict[str, Any],
    requested_at: str,
    reason: str,
    outcome: str,
    contacts_updated: int,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    entry = {
        "action": action,
        "job_id": job_id,
        "segment_id": segment_id,
        "requested_by": requested_by,
        "requested_at": requested_at,
        "reason": reason,
        "outcome": outcome,
        "contacts_updated": contacts_updated,
        "recorded_at": now_iso(),
        **({"detail": detail} if detail else {}),
    }
    item = {"pk": tenant_pk(tenant), "sk": f"{PREFIX}{requested_at}#{job_id}", **entry}
    ddb.put_item(TableName=table, Item={k: _serializer.serialize(to_dynamo(v)) for k, v in item.items()})
    return entry


def list_records(ddb: Any, table: str, tenant: str) -> list[dict[str, Any]]:
    """The tenant's audit records, oldest first."""
    paginator = ddb.get_paginator("query")
    entries = []
    for page in paginator.paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": tenant_pk(tenant)}, ":prefix": {"S": PREFIX}},
    ):
        for raw in page["Items"]:
            entry = {k: from_dynamo(_deserializer.deserialize(v)) for k, v in raw.items()}
            entries.append({k: v for k, v in entry.items() if k not in ("pk", "sk")})
    return entries
