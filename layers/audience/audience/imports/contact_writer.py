"""Identity resolution and contact writes for imports.

Match order: contact_id, else normalised email, else E.164 phone, else create. Email and phone are
unique per tenant through MainTable key items (``T#{tenant}#EMAIL#{email}`` / ``...#PHONE#{e164}``,
the same items ``storage.contacts_repo`` keeps).

Bulk path, per chunk: owners and current contacts are read with consistent BatchGets (100 keys a
call); each contact then claims its new keys with a conditional put (free, or already its own),
is saved with its version condition, and releases keys it no longer uses. When any condition fails
(another writer got there first) that contact falls back to ``contacts_repo.upsert`` — one
transaction — after re-resolving, so the loser of a race updates the winner's contact. A crash
between a claim and the contact write leaves a key naming a contact id that the resumed import
writes (new contacts get ids derived from the job and row, so a re-run never duplicates).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from audience.errors import Conflict
from audience.imports.collapse import Candidate
from audience.imports.rows import RejectRecord
from audience.settings import get_settings
from audience.storage import contacts_repo
from audience.storage.base import connection, now_iso, versioned
from audience.storage.models import ContactItem, UniqueKeyItem, unique_pk
from audience.storage.paging import chunks

UNIQUE_KINDS = {"email": "EMAIL", "phone": "PHONE"}
UNIQUE_SK = "UNIQUE"
MAX_ATTEMPTS = 4
DEFAULT_WRITER_THREADS = 8
BATCH_GET = 100


def writer_threads() -> int:
    """Parallel contact writes: ``IMPORT_WRITER_THREADS``, else 8 on AWS and 1 on the local stack.

    moto applies transactions by deep-copying its tables without a lock, so concurrent writes can
    break it; DynamoDB itself has no such limit and the writes are I/O-bound there.
    """
    raw = os.environ.get("IMPORT_WRITER_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return 1 if get_settings().aws_endpoint_url else DEFAULT_WRITER_THREADS


@dataclass
class WriteOutcome:
    candidate: Candidate
    contact_id: str | None = None
    created: bool = False
    reject: RejectRecord | None = None


class _Lost(Exception):
    """A condition failed: someone else wrote a key or the contact between our read and write."""


def same_value(a: Any, b: Any) -> bool:
    """Equal as stored: numbers by value (``2.0`` is stored as ``2``), but a boolean is never a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


class ContactWriter:
    def __init__(self, tenant_id: str, id_seed: str) -> None:
        self.tenant_id = tenant_id
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"audience-import:{tenant_id}:{id_seed}")

    def new_contact_id(self, candidate: Candidate) -> str:
        return str(uuid.uuid5(self.namespace, str(candidate.rows[0])))

    # ---- bulk path ---------------------------------------------------------------------------

    def write_all(self, candidates: list[Candidate]) -> list[WriteOutcome]:
        owners = self._owners(candidates)
        plans: list[tuple[Candidate, str, bool] | WriteOutcome] = []
        for candidate in candidates:
            plans.append(self._plan(candidate, owners))
        targets = [p[1] for p in plans if isinstance(p, tuple)]
        current = self._contacts(targets)
        work = [(p, current.get(p[1])) for p in plans if isinstance(p, tuple)]
        threads = writer_threads()
        if threads == 1 or len(work) <= 1:
            written = [self._write_planned(*w) for w in work]
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                written = list(pool.map(lambda w: self._write_planned(*w), work))
        results = iter(written)
        return [p if isinstance(p, WriteOutcome) else next(results) for p in plans]

    def _owners(self, candidates: list[Candidate]) -> dict[tuple[str, str], str]:
        keys = {(field, c.fields[field]) for c in candidates for field in UNIQUE_KINDS if c.fields.get(field)}
        by_pk = {unique_pk(self.tenant_id, UNIQUE_KINDS[f], v): (f, v) for f, v in keys}
        owners: dict[tuple[str, str], str] = {}
        for chunk in chunks(list(by_pk), BATCH_GET):
            for item in UniqueKeyItem.batch_get([(pk, UNIQUE_SK) for pk in chunk], consistent_read=True):
                owners[by_pk[item.pk]] = item.contact_id
        return owners

    def _contacts(self, contact_ids: list[str]) -> dict[str, ContactItem]:
        found: dict[str, ContactItem] = {}
        for chunk in chunks(list(dict.fromkeys(contact_ids)), BATCH_GET):
            for item in ContactItem.batch_get([(self.tenant_id, c) for c in chunk], consistent_read=True):
                found[item.sk] = item
        return found

    def _plan(
        self, candidate: Candidate, owners: dict[tuple[str, str], str]
    ) -> tuple[Candidate, str, bool] | WriteOutcome:
        fields = candidate.fields
        found = {f: owners.get((f, fields[f])) for f in UNIQUE_KINDS if fields.get(f)}
        matched = fields.get("contact_id") or found.get("email") or found.get("phone")
        target = matched or self.new_contact_id(candidate)
        taken = next((f for f, owner in found.items() if owner is not None and owner != target), None)
        if taken:
            reason = f"this {taken} already belongs to contact {found[taken]}"
            return WriteOutcome(candidate, reject=RejectRecord(candidate.rows[0], taken, str(fields[taken]), reason))
        return candidate, target, matched is not None

    def _write_planned(self, plan: tuple[Candidate, str, bool], current: ContactItem | None) -> WriteOutcome:
        candidate, target, _matched = plan
        try:
            created = self._save(candidate, target, current)
        except _Lost:
            return self.write(candidate)
        # An id derived from this job's row was created by this job, also when a resumed run finds
        # it already written.
        return WriteOutcome(candidate, contact_id=target, created=created or target == self.new_contact_id(candidate))

    def _save(self, candidate: Candidate, target: str, current: ContactItem | None) -> bool:
        live = current is not None and not current.erased
        old = dict(current.fields or {}) if live else {}
        fields = {**old, **{k: v for k, v in candidate.fields.items() if k != "contact_id"}}
        if live and same_value(fields, old):
            # The row changes nothing (a list imported again): no write, no new version, no stream
            # record for the real-time path to evaluate. Its keys are the contact's already.
            return False
        claimed: list[UniqueKeyItem] = []
        try:
            # Always email before phone: two writers racing for the same person collide on the
            # first key, never each holding one.
            for field, kind in UNIQUE_KINDS.items():
                new_value = contacts_repo.unique_value(field, fields.get(field))
                if new_value and new_value != contacts_repo.unique_value(field, old.get(field)):
                    key = UniqueKeyItem(unique_pk(self.tenant_id, kind, new_value), UNIQUE_SK, contact_id=target)
                    self._claim(key, target)
                    claimed.append(key)
            self._save_contact(target, fields, current, live)
        except _Lost:
            # Give back what we took, so no key names a contact never written; but a racing writer's
            # fallback may have created ``target`` itself with these keys, and then they are its own.
            for key in claimed:
                self._release_unless_written(key, target)
            raise
        for field, kind in UNIQUE_KINDS.items():
            old_value = contacts_repo.unique_value(field, old.get(field))
            if old_value and old_value != contacts_repo.unique_value(field, fields.get(field)):
                self._release(UniqueKeyItem(unique_pk(self.tenant_id, kind, old_value), UNIQUE_SK), target)
        return not live

    @staticmethod
    def _claim(key: UniqueKeyItem, target: str) -> None:
        try:
            key.save(condition=UniqueKeyItem.pk.does_not_exist() | (UniqueKeyItem.contact_id == target))
        except PutError as exc:
            raise _Lost from exc

    @staticmethod
    def _release(key: UniqueKeyItem, target: str) -> None:
        # Already someone else's, or gone: nothing of ours to release.
        with contextlib.suppress(DeleteError):
            key.delete(condition=UniqueKeyItem.contact_id == target)

    def _release_unless_written(self, key: UniqueKeyItem, target: str) -> None:
        """Delete our claim only while the contact it names does not exist, atomically."""
        try:
            with TransactWrite(connection=connection()) as transaction:
                transaction.condition_check(
                    ContactItem, self.tenant_id, target, condition=ContactItem.pk.does_not_exist()
                )
                transaction.delete(key, condition=UniqueKeyItem.contact_id == target)
        except TransactWriteError:
            pass  # the contact exists (the key is rightly its own), or the key is no longer ours

    def _save_contact(self, target: str, fields: dict[str, Any], current: ContactItem | None, live: bool) -> None:
        stamp = now_iso()
        item = ContactItem(
            self.tenant_id,
            target,
            fields=fields,
            created_at=current.created_at if live and current is not None else stamp,
            updated_at=stamp,
            erased=False,
            ttl=None,
            gsi1pk=self.tenant_id,
            gsi1sk=f"{stamp}#{target}",
            **versioned(current.version if current is not None else None),
        )
        try:
            item.save()  # VersionAttribute: conditional on the version read (or on absence)
        except PutError as exc:
            raise _Lost from exc

    # ---- one contact, transactional (fallback after a lost race) ------------------------------

    def write(self, candidate: Candidate) -> WriteOutcome:
        fields: dict[str, Any] = {k: v for k, v in candidate.fields.items() if k != "contact_id"}
        first_row = candidate.rows[0]
        for _ in range(MAX_ATTEMPTS):
            owners = {f: contacts_repo.owner_of(self.tenant_id, f, fields[f]) for f in UNIQUE_KINDS if fields.get(f)}
            matched = candidate.fields.get("contact_id") or owners.get("email") or owners.get("phone")
            target = matched or self.new_contact_id(candidate)
            taken = next((f for f, owner in owners.items() if owner is not None and owner != target), None)
            if taken:
                reason = f"this {taken} already belongs to contact {owners[taken]}"
                return WriteOutcome(candidate, reject=RejectRecord(first_row, taken, str(fields[taken]), reason))
            try:
                contact = contacts_repo.upsert(self.tenant_id, target, fields)
            except Conflict as exc:
                # Another writer claimed one of our keys between the look-up and the write: resolve
                # again (the key now names its owner) unless we were already updating that owner.
                if matched is None:
                    continue
                return WriteOutcome(candidate, reject=RejectRecord(first_row, "", "", exc.message))
            return WriteOutcome(candidate, contact_id=target, created=contact.created_at == contact.updated_at)
        reason = "the contact kept changing concurrently; import the row again"
        return WriteOutcome(candidate, reject=RejectRecord(first_row, "", "", reason))
