"""Identity resolution and contact writes with per-tenant unique email/phone keys.

Match order: contact_id, else normalised email, else E.164 phone, else create. Uniqueness holds
under concurrent imports because a contact and the unique-key items it claims
(``T#{tenant}#EMAIL#{email}`` / ``T#{tenant}#PHONE#{e164}``, sk ``UNIQUE``) are written in one
transaction whose conditions fail if another writer got there first; the loser re-resolves and
updates the winner's contact instead. New contacts get an id derived from the job and row, so a
crashed import re-run writes the same contacts again instead of creating duplicates.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from audience.imports.collapse import Candidate
from audience.imports.dynamo import item, key, plain
from audience.imports.jobs import now_iso
from audience.imports.rows import RejectRecord

UNIQUE_FIELDS = {"email": "EMAIL", "phone": "PHONE"}
MAX_ATTEMPTS = 5
WRITER_THREADS = 8


@dataclass
class WriteOutcome:
    candidate: Candidate
    contact_id: str | None = None
    created: bool = False
    reject: RejectRecord | None = None


class _Race(Exception):
    """Another writer changed a contact or claimed a key between our read and our write."""


def unique_pk(tenant_id: str, field: str, value: str) -> str:
    return f"T#{tenant_id}#{UNIQUE_FIELDS[field]}#{value}"


class ContactWriter:
    def __init__(self, ddb, main_table: str, contacts_table: str, tenant_id: str, id_seed: str) -> None:
        self.ddb = ddb
        self.main_table = main_table
        self.contacts_table = contacts_table
        self.tenant_id = tenant_id
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"audience-import:{tenant_id}:{id_seed}")

    def write_all(self, candidates: list[Candidate]) -> list[WriteOutcome]:
        if len(candidates) <= 1:
            return [self.write(c) for c in candidates]
        with ThreadPoolExecutor(max_workers=WRITER_THREADS) as pool:
            return list(pool.map(self.write, candidates))

    def write(self, candidate: Candidate) -> WriteOutcome:
        for _ in range(MAX_ATTEMPTS):
            outcome = WriteOutcome(candidate)
            target, reject = self._resolve(candidate)
            if reject:
                outcome.reject = reject
                return outcome
            current = self._get_contact(target)
            try:
                outcome.created = self._commit(candidate, target, current)
            except _Race:
                continue
            outcome.contact_id = target
            return outcome
        return WriteOutcome(
            candidate,
            reject=RejectRecord(
                candidate.rows[0], "", "", "the contact kept changing concurrently; import it again"
            ),
        )

    def owner(self, field: str, value: str) -> str | None:
        raw = self.ddb.get_item(
            TableName=self.main_table,
            Key=key(unique_pk(self.tenant_id, field, value), "UNIQUE"),
            ConsistentRead=True,
        )
        data = plain(raw.get("Item"))
        return data["contact_id"] if data else None

    def _resolve(self, candidate: Candidate) -> tuple[str, RejectRecord | None]:
        owners = {f: self.owner(f, candidate.fields[f]) for f in UNIQUE_FIELDS if candidate.fields.get(f)}
        target = candidate.fields.get("contact_id") or owners.get("email") or owners.get("phone")
        if target is None:
            return str(uuid.uuid5(self.namespace, str(candidate.rows[0]))), None
        for field, owner in owners.items():
            if owner is not None and owner != target:
                value = candidate.fields[field]
                reason = f"this {field} already belongs to contact {owner}"
                return target, RejectRecord(candidate.rows[0], field, value, reason)
        return target, None

    def _get_contact(self, contact_id: str) -> dict[str, Any] | None:
        raw = self.ddb.get_item(
            TableName=self.contacts_table, Key=key(self.tenant_id, contact_id), ConsistentRead=True
        )
        return plain(raw.get("Item"))

    def _commit(self, candidate: Candidate, target: str, current: dict[str, Any] | None) -> bool:
        live = current is not None and not current.get("erased")
        old_fields: dict[str, Any] = dict(current.get("fields") or {}) if live else {}
        stamp = now_iso()
        fields = {**old_fields, **{k: v for k, v in candidate.fields.items() if k != "contact_id"}}
        fields["created_at"] = old_fields.get("created_at") or stamp
        fields["updated_at"] = stamp
        version = int(current.get("version", 0)) if current else 0
        contact = {
            "pk": self.tenant_id,
            "sk": target,
            "contact_id": target,
            "fields": fields,
            "updated_at": stamp,
            "version": version + 1,
            "gsi1pk": self.tenant_id,
            "gsi1sk": f"{stamp}#{target}",
        }
        if current is None:
            put = {"ConditionExpression": "attribute_not_exists(sk)"}
        else:
            put = {"ConditionExpression": "version = :v", "ExpressionAttributeValues": item({":v": version})}
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.contacts_table, "Item": item(contact), **put}}
        ]
        for field in UNIQUE_FIELDS:
            new, old = fields.get(field), old_fields.get(field)
            if new and new != old:
                actions.append(self._claim(field, new, target))
            if old and old != new:
                actions.append(self._release(field, old, target))
        try:
            if len(actions) == 1:
                self.ddb.put_item(**actions[0]["Put"])
            else:
                self.ddb.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in (
                "ConditionalCheckFailedException",
                "TransactionCanceledException",
                "TransactionConflictException",
            ):
                raise _Race from exc
            raise
        return not live

    def _claim(self, field: str, value: str, contact_id: str) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.main_table,
                "Item": item(
                    {"pk": unique_pk(self.tenant_id, field, value), "sk": "UNIQUE", "contact_id": contact_id}
                ),
                "ConditionExpression": "attribute_not_exists(pk) OR contact_id = :me",
                "ExpressionAttributeValues": item({":me": contact_id}),
            }
        }

    def _release(self, field: str, value: str, contact_id: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self.main_table,
                "Key": key(unique_pk(self.tenant_id, field, value), "UNIQUE"),
                "ConditionExpression": "attribute_not_exists(pk) OR contact_id = :me",
                "ExpressionAttributeValues": item({":me": contact_id}),
            }
        }
