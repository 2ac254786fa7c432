"""Identity resolution for imported contacts, on top of ``storage.contacts_repo.upsert``.

Match order: contact_id, else normalised email, else E.164 phone, else create. The repository
writes a contact and its unique email/phone key items in one conditional transaction, so two
concurrent imports can never give one address to two contacts: the loser gets a Conflict,
re-resolves and updates the winner's contact instead. New contacts get an id derived from the job
and the row, so a crashed import that is re-run writes the same contacts instead of duplicates.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from audience.errors import Conflict
from audience.imports.collapse import Candidate
from audience.imports.rows import RejectRecord
from audience.storage import contacts_repo

UNIQUE_FIELDS = ("email", "phone")
MAX_ATTEMPTS = 4
WRITER_THREADS = 8


@dataclass
class WriteOutcome:
    candidate: Candidate
    contact_id: str | None = None
    created: bool = False
    reject: RejectRecord | None = None


class ContactWriter:
    def __init__(self, tenant_id: str, id_seed: str) -> None:
        self.tenant_id = tenant_id
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"audience-import:{tenant_id}:{id_seed}")

    def write_all(self, candidates: list[Candidate]) -> list[WriteOutcome]:
        if len(candidates) <= 1:
            return [self.write(c) for c in candidates]
        with ThreadPoolExecutor(max_workers=WRITER_THREADS) as pool:
            return list(pool.map(self.write, candidates))

    def new_contact_id(self, candidate: Candidate) -> str:
        return str(uuid.uuid5(self.namespace, str(candidate.rows[0])))

    def write(self, candidate: Candidate) -> WriteOutcome:
        fields = {k: v for k, v in candidate.fields.items() if k != "contact_id"}
        first_row = candidate.rows[0]
        for _ in range(MAX_ATTEMPTS):
            owners = {
                f: contacts_repo.owner_of(self.tenant_id, f, fields[f])
                for f in UNIQUE_FIELDS
                if fields.get(f)
            }
            matched = candidate.fields.get("contact_id") or owners.get("email") or owners.get("phone")
            target = matched or self.new_contact_id(candidate)
            taken = next((f for f, owner in owners.items() if owner is not None and owner != target), None)
            if taken:
                reason = f"this {taken} already belongs to contact {owners[taken]}"
                return WriteOutcome(
                    candidate, reject=RejectRecord(first_row, taken, str(fields[taken]), reason)
                )
            try:
                contact = contacts_repo.upsert(self.tenant_id, target, fields)
            except Conflict as exc:
                # Another writer claimed one of our keys between the look-up and the write: resolve
                # again (the key now names its owner) unless we were already updating that owner.
                if matched is None:
                    continue
                return WriteOutcome(candidate, reject=RejectRecord(first_row, "", "", exc.message))
            return WriteOutcome(
                candidate, contact_id=target, created=contact.created_at == contact.updated_at
            )
        reason = "the contact kept changing concurrently; import the row again"
        return WriteOutcome(candidate, reject=RejectRecord(first_row, "", "", reason))
