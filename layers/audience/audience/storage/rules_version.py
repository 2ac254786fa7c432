"""A stamp that moves whenever something the real-time path reads of a tenant's rules is written.

MainTable ``T#{tenant}`` / ``RULES#version``, attribute ``stamp`` (a random token). The contact
stream keeps each tenant's rules per container and checks this stamp inside the watermark claim's
own transaction (a ConditionCheck beside the claims), so a warm container pays no request to know its
rules are current, and a container whose stamp moved reloads them before it decides anything.

Writers bump the stamp *after* their own write (segments: create, update, delete, an evaluation's
``last_evaluated_at``; custom fields; suppression settings). A reader reads the stamp *before* the
rules (``current`` then the queries), so a reader that sees a new stamp sees the write it stands for;
one that read the stamp before a bump keeps an older stamp than its rules, and reloads once more.

A run writes many segments' evaluations (``last_evaluated_at``) at once: inside ``one_bump`` the
stamp moves twice in all, not once per segment. Before the first write a *pending* stamp (``pending``
set) is put, the writes inside bump nothing, and at the end a settled stamp is put. A container
keeps no rules read under a pending stamp (it reads them again at its next invocation), so a writer
killed in the middle leaves no container on rules older than what it wrote: the stamp stays pending
until the next bump. (Outside ``one_bump`` a writer bumps after its write: killed between the two, it
leaves warm containers on the old rules until the next bump.)
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from audience.settings import get_settings
from audience.storage.base import connection
from audience.storage.models import tenant_pk

SK = "RULES#version"


def _key(tenant: str) -> dict[str, Any]:
    return {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": SK}}


# tenants whose bumps are deferred to the end of a ``one_bump`` block -> the pending stamp put (None: not yet)
_DEFERRED: ContextVar[dict[str, str | None] | None] = ContextVar("rules_version_deferred", default=None)


def bump(tenant: str) -> str:
    """Move the tenant's stamp (one PutItem) after a rule-bearing write; the new stamp. Inside
    ``one_bump`` the write is covered by the pending stamp (put now if ``before_write`` was not
    called) and the settled stamp the block puts at its end: no request once pending."""
    deferred = _DEFERRED.get()
    if deferred is not None and tenant in deferred:
        before_write(tenant)
        return deferred[tenant]  # type: ignore[return-value]
    return _put(tenant, pending=False)


def before_write(tenant: str) -> None:
    """Announce a rule-bearing write: inside ``one_bump``, the first one puts the pending stamp (so no
    container keeps rules read from now until the block ends); elsewhere nothing."""
    deferred = _DEFERRED.get()
    if deferred is not None and tenant in deferred and deferred[tenant] is None:
        deferred[tenant] = _put(tenant, pending=True)


@contextmanager
def one_bump(tenant: str) -> Iterator[None]:
    """Every rule-bearing write of ``tenant`` inside (an evaluation run's ``record_evaluation`` of each
    segment) moves the stamp twice in all: pending before the first write, settled at the end (also
    when the block raises; a process killed inside leaves it pending). Nothing when nothing was written."""
    deferred = _DEFERRED.get()
    if deferred is not None and tenant in deferred:  # nested: the outer block bumps
        yield
        return
    token = _DEFERRED.set({**(deferred or {}), tenant: None})
    try:
        yield
    finally:
        pending = (_DEFERRED.get() or {}).get(tenant)
        _DEFERRED.reset(token)
        if pending is not None:
            _put(tenant, pending=False)


def _put(tenant: str, *, pending: bool) -> str:
    stamp = secrets.token_hex(8)
    item: dict[str, Any] = {**_key(tenant), "stamp": {"S": stamp}}
    if pending:
        item["pending"] = {"BOOL": True}
    connection().client.put_item(TableName=get_settings().main_table, Item=item)
    return stamp


def current(tenant: str) -> str | None:
    """The stamp now (consistent read); None when no rule-bearing write ever bumped it."""
    return read(tenant)[0]


def read(tenant: str) -> tuple[str | None, bool]:
    """The stamp now (consistent read) and whether it is pending (a ``one_bump`` writer is between
    its writes, or was killed there): rules read under a pending stamp must not be kept."""
    answer = connection().client.get_item(
        TableName=get_settings().main_table,
        Key=_key(tenant),
        ConsistentRead=True,
        ProjectionExpression="stamp, pending",
    )
    item = answer.get("Item")
    if not item:
        return None, False
    return item["stamp"]["S"], bool(item.get("pending", {}).get("BOOL"))


def unchanged_check(tenant: str, stamp: str | None) -> dict[str, Any]:
    """A TransactWriteItems ``ConditionCheck`` that holds while the stamp is still ``stamp``."""
    check: dict[str, Any] = {"TableName": get_settings().main_table, "Key": _key(tenant)}
    if stamp is None:
        check["ConditionExpression"] = "attribute_not_exists(stamp)"
    else:
        check["ConditionExpression"] = "stamp = :stamp"
        check["ExpressionAttributeValues"] = {":stamp": {"S": stamp}}
    return {"ConditionCheck": check}
