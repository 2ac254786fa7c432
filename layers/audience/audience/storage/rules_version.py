"""A stamp that moves whenever something the real-time path reads of a tenant's rules is written.

MainTable ``T#{tenant}`` / ``RULES#version``, attribute ``stamp`` (a random token). The contact
stream keeps each tenant's rules per container and checks this stamp inside the watermark claim's
own transaction (a ConditionCheck beside the claims), so a warm container pays no request to know its
rules are current, and a container whose stamp moved reloads them before it decides anything.

Writers bump the stamp *after* their own write (segments: create, update, delete, an evaluation's
``last_evaluated_at``; custom fields; suppression settings). A reader reads the stamp *before* the
rules (``current`` then the queries), so a reader that sees a new stamp sees the write it stands for;
one that read the stamp before a bump keeps an older stamp than its rules, and reloads once more.
"""

from __future__ import annotations

import secrets
from typing import Any

from audience.settings import get_settings
from audience.storage.base import connection
from audience.storage.models import tenant_pk

SK = "RULES#version"


def _key(tenant: str) -> dict[str, Any]:
    return {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": SK}}


def bump(tenant: str) -> str:
    """Move the tenant's stamp (one PutItem); the new stamp."""
    stamp = secrets.token_hex(8)
    connection().client.put_item(TableName=get_settings().main_table, Item={**_key(tenant), "stamp": {"S": stamp}})
    return stamp


def current(tenant: str) -> str | None:
    """The stamp now (consistent read); None when no rule-bearing write ever bumped it."""
    answer = connection().client.get_item(
        TableName=get_settings().main_table, Key=_key(tenant), ConsistentRead=True, ProjectionExpression="stamp"
    )
    item = answer.get("Item")
    return item["stamp"]["S"] if item else None


def unchanged_check(tenant: str, stamp: str | None) -> dict[str, Any]:
    """A TransactWriteItems ``ConditionCheck`` that holds while the stamp is still ``stamp``."""
    check: dict[str, Any] = {"TableName": get_settings().main_table, "Key": _key(tenant)}
    if stamp is None:
        check["ConditionExpression"] = "attribute_not_exists(stamp)"
    else:
        check["ConditionExpression"] = "stamp = :stamp"
        check["ExpressionAttributeValues"] = {":stamp": {"S": stamp}}
    return {"ConditionCheck": check}
