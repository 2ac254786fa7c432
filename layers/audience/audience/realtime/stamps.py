"""Timestamps that make the real-time path safe against stale, replayed and racing records.

Two kinds of item in MembershipsTable, both keyed by tenant:

- the contact's stream watermark, ``pk = {tenant}#~stream``, ``sk = contact_id``, ``seen_at``: the
  ``changed_at`` of the newest change applied for that contact. A record can claim the contact only
  if it is at least as new (conditional update), so an older record arriving late, or replayed after
  a newer one, writes nothing. Segment ids are hex, so the partition can never be a segment's. The
  item has no ``gsi1pk``: it stays out of the ``by_contact`` index.
- ``evaluated_at`` on memberships the stream writes. The one-item ``add``/``remove`` here are
  conditional (a delete only while the membership is not newer than the change, a put only when
  absent); a change's usual writes go in batches (``realtime.batched``), ordered by the watermark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError

from audience.settings import get_settings
from audience.storage import rules_version
from audience.storage.base import SettingsBoundModel, connection, now_iso
from audience.storage.models import MembershipsMeta, by_contact_pk, membership_pk
from audience.storage.paging import chunks, condition_failed

WATERMARK_PARTITION = "~stream"
BATCH_GET_SIZE = 100
BATCH_GET_ATTEMPTS = 8
TRANSACTION_ITEMS = 100  # DynamoDB's limit of actions per TransactWriteItems


def watermark_pk(tenant: str) -> str:
    return f"{tenant}#{WATERMARK_PARTITION}"


class StreamWatermark(SettingsBoundModel):
    Meta = MembershipsMeta
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    seen_at = UnicodeAttribute()


class StampedMembership(SettingsBoundModel):
    """A membership as MembershipItem stores it, plus the stream's ``evaluated_at``."""

    Meta = MembershipsMeta
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)
    added_at = UnicodeAttribute(null=True)
    evaluated_at = UnicodeAttribute(null=True)


class RulesMoved(Exception):
    """The tenant's rules stamp moved since the caller read its rules: reload them, claim again."""

    def __init__(self, tenant: str) -> None:
        super().__init__(tenant)
        self.tenant = tenant


UNCHECKED: Any = object()  # ``rules_stamp`` default: claim without checking the tenant's rules stamp


def claim_update(table: str, tenant: str, contact_id: str, changed_at: str) -> dict[str, Any]:
    """The conditional watermark update as a raw request (built per claim without pynamodb's
    expression builder: the same ``SET`` and condition every time, only the values differ)."""
    return {
        "TableName": table,
        "Key": {"pk": {"S": watermark_pk(tenant)}, "sk": {"S": contact_id}},
        "UpdateExpression": "SET #seen = :at",
        "ConditionExpression": "attribute_not_exists(#seen) OR #seen <= :at",
        "ExpressionAttributeNames": {"#seen": "seen_at"},
        "ExpressionAttributeValues": {":at": {"S": changed_at}},
    }


def _reasons(exc: ClientError) -> list[str | None]:
    return [reason.get("Code") for reason in exc.response.get("CancellationReasons") or []]


def claim(tenant: str, contact_id: str, changed_at: str, rules_stamp: str | None = UNCHECKED) -> bool:
    """Advance the contact's watermark to ``changed_at``; False when a newer change was applied.

    With ``rules_stamp`` (the stamp of the rules the caller holds, ``rules_version``), the claim and a
    check that the stamp is unchanged go in one transaction: RulesMoved when it moved (nothing claimed),
    so a container that keeps a tenant's rules learns they are stale in the request it makes anyway."""
    client = connection().client
    update = claim_update(get_settings().memberships_table, tenant, contact_id, changed_at)
    if rules_stamp is UNCHECKED:
        try:
            client.update_item(**update)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
    try:
        client.transact_write_items(
            TransactItems=[{"Update": update}, rules_version.unchanged_check(tenant, rules_stamp)]
        )
    except ClientError as exc:
        reasons = _reasons(exc)
        if reasons[1:2] == ["ConditionalCheckFailed"]:
            raise RulesMoved(tenant) from exc
        if reasons[:1] == ["ConditionalCheckFailed"]:
            return False
        raise
    return True


def claim_many(
    claims: Iterable[tuple[str, str, str]],
    rules_stamps: Mapping[str, str | None] | None = None,
    reload: Callable[[str], str | None] | None = None,
) -> set[tuple[str, str, str]]:
    """``claim`` for many contacts at once: ``(tenant, contact_id, changed_at)`` of distinct contacts,
    one transaction of conditional updates per 100 instead of a request each. A transaction is
    all-or-nothing: when one claim in it is stale (or it conflicts), none of its claims is made and
    they are left out of the answer, for the caller to claim one by one. Returns the claims made.

    With ``rules_stamps`` (tenant -> stamp of the rules the caller holds), each transaction holds one
    tenant's claims (99) and the check of its stamp; when the stamp moved, ``reload(tenant)`` reloads
    the caller's rules and gives the new stamp, and the chunk is tried once more."""
    table = get_settings().memberships_table
    client = connection().client
    by_tenant: dict[str | None, list[tuple[str, str, str]]] = {}
    for key in dict.fromkeys(claims):
        by_tenant.setdefault(key[0] if rules_stamps is not None else None, []).append(key)
    made: set[tuple[str, str, str]] = set()
    for tenant, keys in by_tenant.items():
        size = TRANSACTION_ITEMS if tenant is None else TRANSACTION_ITEMS - 1
        for chunk in chunks(keys, size):
            items = [{"Update": claim_update(table, t, cid, at)} for t, cid, at in chunk]
            for attempt in range(2):
                check = [] if tenant is None else [rules_version.unchanged_check(tenant, rules_stamps[tenant])]
                try:
                    client.transact_write_items(TransactItems=items + check)
                except ClientError as exc:
                    moved = tenant is not None and _reasons(exc)[len(items) :] == ["ConditionalCheckFailed"]
                    if moved and reload is not None and attempt == 0:
                        rules_stamps = {**rules_stamps, tenant: reload(tenant)}
                        continue
                    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                        raise
                    break
                made.update(chunk)
                break
    return made


def watermark(tenant: str, contact_id: str) -> str | None:
    try:
        return StreamWatermark.get(watermark_pk(tenant), contact_id, consistent_read=True).seen_at
    except StreamWatermark.DoesNotExist:
        return None


def changed_after(tenant: str, moment: str) -> Iterator[tuple[str, str]]:
    """``(contact_id, seen_at)`` of contacts the stream applied a change newer than ``moment`` to:
    an evaluation run whose snapshot was cut at ``moment`` must leave their memberships alone."""
    for mark in StreamWatermark.query(watermark_pk(tenant), filter_condition=StreamWatermark.seen_at > moment):
        yield mark.sk, mark.seen_at


def current_members(tenant: str, contact_id: str, segment_ids: Iterable[str]) -> set[str]:
    """Which of ``segment_ids`` hold the contact now (consistent BatchGet: one call per 100)."""
    return current_members_of_many(tenant, [contact_id], segment_ids)[contact_id]


def current_members_of_many(tenant: str, contact_ids: Iterable[str], segment_ids: Iterable[str]) -> dict[str, set[str]]:
    """``current_members`` of many contacts at once: their (segment, contact) keys packed 100 per
    consistent BatchGet, so a stream batch of contacts in a few segments reads in a few calls. Raw
    requests and answers (only the keys are projected): no model is built per membership found."""
    found: dict[str, set[str]] = {cid: set() for cid in contact_ids}
    segments = list(dict.fromkeys(segment_ids))
    keys = [{"pk": {"S": membership_pk(tenant, sid)}, "sk": {"S": cid}} for cid in found for sid in segments]
    table, client, cut = get_settings().memberships_table, connection().client, len(tenant) + 1
    for chunk in chunks(keys, BATCH_GET_SIZE):
        request = {table: {"Keys": chunk, "ConsistentRead": True, "ProjectionExpression": "pk, sk"}}
        for attempt in range(BATCH_GET_ATTEMPTS):
            answer = client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(table, []):
                found[item["sk"]["S"]].add(item["pk"]["S"][cut:])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(0.05 * 2**attempt, 1.0))  # throttled: back off as pynamodb's batch_get does
        else:
            raise RuntimeError(f"memberships of {tenant} stayed unprocessed after {BATCH_GET_ATTEMPTS} reads")
    return found


def add(tenant: str, segment_id: str, contact_id: str, category: str | None, changed_at: str) -> bool:
    """Put a dynamic membership unless it exists; True when this call created it."""
    item = StampedMembership(
        membership_pk(tenant, segment_id),
        contact_id,
        gsi1pk=by_contact_pk(tenant, contact_id),
        gsi1sk=segment_id,
        source="dynamic",
        category=category,
        added_at=now_iso(),
        evaluated_at=changed_at,
    )
    try:
        item.save(condition=StampedMembership.pk.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def removal_condition(changed_at: str | None):
    """A membership goes only while present and not stamped by the stream after ``changed_at``."""
    condition = StampedMembership.pk.exists()
    if changed_at is not None:
        condition &= StampedMembership.evaluated_at.does_not_exist() | (StampedMembership.evaluated_at <= changed_at)
    return condition


def remove(tenant: str, segment_id: str, contact_id: str, changed_at: str | None) -> bool:
    """Delete a membership unless the stream stamped it after ``changed_at`` (None: whatever its
    stamp, as erasure does); True when this call deleted it."""
    try:
        StampedMembership(membership_pk(tenant, segment_id), contact_id).delete(condition=removal_condition(changed_at))
    except DeleteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True
