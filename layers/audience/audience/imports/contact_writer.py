"""Identity resolution and contact writes for imports, in bulk.

Match order: contact_id, else normalised email, else E.164 phone, else create. Email and phone are
unique per tenant through MainTable key items (``T#{tenant}#EMAIL#{email}`` / ``...#PHONE#{e164}``,
the same items ``storage.contacts_repo`` keeps).

Per chunk: every row is first written as a new person without any read, conditioned on the absence
of all it writes (``_write_presumed_new``: it commits only where the reads would have planned the
same creation); the rows whose conditions fail (or the whole chunk, when its first call fails) are
then resolved by reading: owners of every email/phone and the current contacts are read with
consistent BatchGets (100 keys a call). Each contact then becomes one group of transaction items — the contact
(conditioned on the version read, or on absence), each new key claimed only if free or already its
own, each old key released only if still its own — and groups are packed into TransactWriteItems
calls of up to 100 items, several calls in parallel (they touch disjoint items). A contact's writes
are atomic: a key is never claimed for a contact that is not written, so a crash or a lost race
leaves nothing to give back. When a call is cancelled, the cancellation reasons name the groups
whose condition failed (another writer got there first); only those fall back to
``contacts_repo.upsert`` — one transaction each — after re-resolving, so the loser of a race updates
the winner's contact; the other groups are committed again. Unconditional BatchWriteItem is never
used: it would overwrite a racing writer's key (and ignores versions).
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pynamodb.exceptions import TransactWriteError

from audience.errors import Conflict
from audience.imports.collapse import Candidate
from audience.imports.rows import RejectRecord
from audience.settings import get_settings
from audience.storage import batch, contacts_repo
from audience.storage.attributes import document_from_raw
from audience.storage.base import now_iso
from audience.storage.models import unique_pk

UNIQUE_KINDS = {"email": "EMAIL", "phone": "PHONE"}
UNIQUE_SK = "UNIQUE"
MAX_ATTEMPTS = 4
DEFAULT_WRITER_THREADS = 8
LOCAL_WRITER_THREADS = 4
TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems call
PROBE_CONTACTS = TRANSACTION_ITEMS // 3  # one call's worth of new contacts (a contact and two key claims)


def writer_threads() -> int:
    """Parallel transaction calls: ``IMPORT_WRITER_THREADS``, else 8 on AWS and 4 on the local stack.
    The local stack's moto runs in its own process and takes one transaction at a time (under a
    lock), but while it applies one, the next calls are built and sent: 3 threads imported ~35%
    faster than 1 there."""
    raw = os.environ.get("IMPORT_WRITER_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return LOCAL_WRITER_THREADS if get_settings().aws_endpoint_url else DEFAULT_WRITER_THREADS


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def writer_pool(threads: int) -> ThreadPoolExecutor:
    """The process's pool of ``threads`` transaction writers, kept across chunks.

    A new pool per chunk started new threads, and each new thread's first DynamoDB call made it a
    botocore session of its own (``storage.base.connection`` sets one per thread, ~15 ms of CPU each
    to build, though the connection's client already exists): 4 threads cost ~60 ms a chunk, ~12 us
    a row of a 5,000-row chunk. A warm Lambda container keeps its threads for the next chunk too."""
    with _pools_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="import-writer")
        return pool


class StoredContact(NamedTuple):
    """What the writer needs of a stored contact, read from its raw attribute map (``ContactItem``'s
    layout) without building the model."""

    fields: dict[str, Any]
    created_at: str
    erased: bool
    version: int | None

    @classmethod
    def from_raw(cls, item: dict[str, Any]) -> StoredContact:
        version = item.get("version")
        return cls(
            fields=document_from_raw(item["fields"]["M"]) if "fields" in item else {},
            created_at=item["created_at"]["S"],
            erased=bool(item.get("erased", {}).get("BOOL", False)),
            version=int(version["N"]) if version is not None else None,
        )


@dataclass
class WriteOutcome:
    candidate: Candidate
    contact_id: str | None = None
    created: bool = False
    reject: RejectRecord | None = None


@dataclass
class ContactWrite:
    """One contact's planned writes: committed together or not at all."""

    candidate: Candidate
    target: str
    contact: dict[str, Any]  # its attribute map, without the version (contacts_repo.contact_attributes)
    read_version: int | None  # the version read (None: absent), which the write is conditioned on
    old_keys: dict[str, str]
    new_keys: dict[str, str]
    creates: bool
    keys_seen_free: bool = False  # every key it claims was read as free: claims need no owner check
    touched: set[str] = field(default_factory=set)
    size: int = 1


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
    presume_new = True  # write each chunk as new people first (``_write_presumed_new``); False: read first

    def __init__(self, tenant_id: str, id_seed: str) -> None:
        self.tenant_id = tenant_id
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"audience-import:{tenant_id}:{id_seed}")
        self._namespace_hash = hashlib.sha1(self.namespace.bytes, usedforsecurity=False)

    def new_contact_id(self, candidate: Candidate) -> str:
        """Derived from the job and the row, so a re-delivered chunk or a resumed job never
        creates the person a second time: ``str(uuid.uuid5(self.namespace, str(row)))``.

        Written here from the SHA-1 of the namespace (hashed once per writer) and the row, the
        version and variant bits set as ``uuid.UUID(bytes=..., version=5)`` sets them: ``uuid5``
        hashed the namespace again and built a ``UUID`` for every row (its checks and its ``str``),
        ~30% of planning a new contact."""
        digest = self._namespace_hash.copy()
        digest.update(str(candidate.rows[0]).encode())
        raw = bytearray(digest.digest()[:16])
        raw[6] = raw[6] & 0x0F | 0x50  # version 5
        raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
        text = raw.hex()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    # ---- bulk path ---------------------------------------------------------------------------

    def write_all(self, candidates: list[Candidate]) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome | None] = [None] * len(candidates)
        stamp = now_iso()  # one update time for the chunk's writes, taken before any of them
        unread = self._write_presumed_new(candidates, outcomes, stamp) if self.presume_new else range(len(candidates))
        self._write_resolved(candidates, list(unread), outcomes, stamp)
        return [o for o in outcomes if o is not None]

    def _write_presumed_new(
        self, candidates: list[Candidate], outcomes: list[WriteOutcome | None], stamp: str
    ) -> list[int]:
        """Write the chunk as new people without reading anything first; returns the indexes that
        must be resolved by reading (``_write_resolved``).

        Each contact is created conditioned on its absence and each of its keys claimed on theirs:
        such a group commits only when nothing it writes exists at that moment, and then the reads
        would have found nothing either (no owner, no contact) and planned the very same items. A
        group that names anything existing (an owned email or phone, a contact id or derived id
        already written: an update, a re-delivered chunk, a racing importer) fails its conditions,
        writes nothing, and is resolved by reading like every other row before. On a first import
        (a new list: most rows) this saves the consistent BatchGets of every row's email and phone
        owners and of the contacts named by id: ~1.7 keys a row, about a quarter of the DynamoDB
        work of a created row.

        The chunk's first call (its first ``PROBE_CONTACTS`` contacts) is the probe: if any of its
        groups fails, the list is taken for one that names people already stored and the rest of
        the chunk is resolved by reading without being planned as new (a re-import then costs one
        cancelled call of 33 contacts a chunk). After the probe, the first cancellation stops
        further presumed calls (those not yet sent, and the rows not yet planned, go through the
        reads). Each call is sent as soon as its contacts are planned (``_commit``)."""
        probe = list(range(min(PROBE_CONTACTS, len(candidates))))
        writes: dict[int, ContactWrite] = {}

        def presumed(index: int) -> ContactWrite:
            return self._presumed(candidates[index], stamp)

        lost = self._commit(probe, presumed, writes)
        rest = list(range(len(probe), len(candidates)))
        if not lost and rest:
            rest = self._commit(rest, presumed, writes, presumed_new=True)
        unread = set(lost) | set(rest)
        for index, write in writes.items():
            if index not in unread:
                outcomes[index] = WriteOutcome(write.candidate, contact_id=write.target, created=True)
        return sorted(unread)

    def _presumed(self, candidate: Candidate, stamp: str) -> ContactWrite:
        """The candidate's writes as a new person: its contact id, else the id derived from the row."""
        target = candidate.fields.get("contact_id") or self.new_contact_id(candidate)
        write = self._prepare(candidate, target, None, {}, stamp)
        assert write is not None  # nothing read, nothing to compare with: always a write
        return write

    def _write_resolved(
        self, candidates: list[Candidate], indexes: list[int], outcomes: list[WriteOutcome | None], stamp: str
    ) -> None:
        """Resolve ``indexes`` by reading their keys' owners and contacts, then write them."""
        if not indexes:
            return
        chosen = [candidates[i] for i in indexes]
        owners = self._owners(chosen)
        planned: list[tuple[int, str]] = []
        for index in indexes:
            plan = self._plan(candidates[index], owners)
            if isinstance(plan, WriteOutcome):
                outcomes[index] = plan
            else:
                planned.append((index, plan))
        current = self._contacts([t for i, t in planned if not self._surely_new(candidates[i], owners)])
        writes: dict[int, ContactWrite] = {}
        for index, target in planned:
            write = self._prepare(candidates[index], target, current.get(target), owners, stamp)
            if write is None:
                # The row changes nothing (a list imported again): no write, no new version, no
                # stream record for the real-time path. Its keys are the contact's already. (Created
                # by this job when a re-delivered chunk finds it already written.)
                created = target == self.new_contact_id(candidates[index])
                outcomes[index] = WriteOutcome(candidates[index], contact_id=target, created=created)
            else:
                writes[index] = write
        lost = set(self._commit(list(writes), writes.__getitem__, writes))
        for index, write in writes.items():
            if index in lost:
                continue
            # An id derived from this job's row was created by this job, also when a re-delivered
            # chunk finds it already written.
            created = write.creates or write.target == self.new_contact_id(write.candidate)
            outcomes[index] = WriteOutcome(write.candidate, contact_id=write.target, created=created)
        for index in sorted(lost):
            outcomes[index] = self.write(candidates[index])

    def _owners(self, candidates: list[Candidate]) -> dict[tuple[str, str], str]:
        keys = {(field, c.fields[field]) for c in candidates for field in UNIQUE_KINDS if c.fields.get(field)}
        by_pk = {unique_pk(self.tenant_id, UNIQUE_KINDS[f], v): (f, v) for f, v in keys}
        found = batch.get_raw(
            get_settings().main_table,
            [{"pk": {"S": pk}, "sk": {"S": UNIQUE_SK}} for pk in by_pk],
            consistent=True,
            projection="pk, contact_id",
        )
        return {by_pk[item["pk"]["S"]]: item["contact_id"]["S"] for item in found}

    @staticmethod
    def _surely_new(candidate: Candidate, owners: dict[tuple[str, str], str]) -> bool:
        """No contact id, and an email or phone that nobody owns: its contact (the id derived from
        this job's row) was never written, since writing it claims those keys in the same
        transaction. It is not read, then (on a first import, most rows): its creation is
        conditioned on absence. Should it exist after all (a re-delivered chunk whose contact was
        given other keys since), that condition fails and the row falls back to ``write``, which
        reads it and updates it, as the read would have."""
        if candidate.fields.get("contact_id"):
            return False
        keys = [(f, candidate.fields[f]) for f in UNIQUE_KINDS if candidate.fields.get(f)]
        return bool(keys) and all(key not in owners for key in keys)

    def _contacts(self, contact_ids: list[str]) -> dict[str, StoredContact]:
        keys = [{"pk": {"S": self.tenant_id}, "sk": {"S": c}} for c in dict.fromkeys(contact_ids)]
        found = batch.get_raw(get_settings().contacts_table, keys, consistent=True)
        return {item["sk"]["S"]: StoredContact.from_raw(item) for item in found}

    def _plan(self, candidate: Candidate, owners: dict[tuple[str, str], str]) -> str | WriteOutcome:
        fields = candidate.fields
        found = {f: owners.get((f, fields[f])) for f in UNIQUE_KINDS if fields.get(f)}
        matched = fields.get("contact_id") or found.get("email") or found.get("phone")
        target = matched or self.new_contact_id(candidate)
        taken = next((f for f, owner in found.items() if owner is not None and owner != target), None)
        if taken:
            reason = f"this {taken} already belongs to contact {found[taken]}"
            return WriteOutcome(candidate, reject=RejectRecord(candidate.rows[0], taken, str(fields[taken]), reason))
        return target

    def _prepare(
        self,
        candidate: Candidate,
        target: str,
        current: StoredContact | None,
        owners: dict[tuple[str, str], str],
        stamp: str,
    ) -> ContactWrite | None:
        live = current is not None and not current.erased
        old = dict(current.fields or {}) if live else {}
        fields = {**old, **{k: v for k, v in candidate.fields.items() if k != "contact_id"}}
        if live and same_value(fields, old):
            return None
        # Existing contacts keep their creation time; a new one takes the file's, if any.
        created_at = current.created_at if live and current is not None else (candidate.created_at or stamp)
        contact = contacts_repo.contact_attributes(
            self.tenant_id, target, fields, created_at=created_at, updated_at=stamp
        )
        old_keys, new_keys = contacts_repo.unique_keys(old), contacts_repo.unique_keys(fields)
        claims, releases = contacts_repo.contact_key_writes(self.tenant_id, old_keys, new_keys)
        claimed = set(claims)
        seen_free = not any(
            unique_pk(self.tenant_id, kind, contacts_repo.unique_value(f, candidate.fields[f]) or "") in claimed
            for f, kind in UNIQUE_KINDS.items()
            if candidate.fields.get(f) and owners.get((f, candidate.fields[f])) is not None
        )
        return ContactWrite(
            candidate=candidate,
            target=target,
            contact=contact,
            read_version=current.version if current is not None else None,
            old_keys=old_keys,
            new_keys=new_keys,
            creates=not live,
            keys_seen_free=seen_free,
            touched={f"C#{target}", *claims, *releases},
            size=1 + len(claims) + len(releases),
        )

    def _commit(
        self,
        indexes: list[int],
        plan: Callable[[int], ContactWrite],
        writes: dict[int, ContactWrite],
        *,
        presumed_new: bool = False,
    ) -> list[int]:
        """Commit the writes ``plan`` gives for ``indexes`` (each recorded in ``writes``) in packed
        transactions; returns the indexes whose conditions failed (plus any that touch an item an
        earlier write of this chunk touches: they are re-resolved after it).

        A call is handed to the writer threads as soon as its contacts are planned, so the first
        calls are on their way to DynamoDB while the rest of the chunk is planned (planning a
        5,000-row chunk first left the store idle for that time unless another chunk was writing).
        ``presumed_new``: the writes were planned without reading (``_write_presumed_new``): once a
        call is cancelled, no more rows are planned, and the calls not yet sent and the rows not yet
        planned are returned unsent."""
        conflict = threading.Event() if presumed_new else None
        threads = writer_threads()
        pool = writer_pool(threads) if threads > 1 else None
        seen: set[str] = set()
        deferred: list[int] = []
        lost: list[int] = []
        sent: list[Future[list[int]]] = []
        batch: list[int] = []
        size = 0

        def send(batch: list[int], last: bool) -> None:
            if pool is None or (last and not sent):  # one call: no hand-over to a writer thread
                lost.extend(self._commit_batch(batch, writes, conflict))
            else:
                sent.append(pool.submit(self._commit_batch, batch, writes, conflict))

        unplanned: list[int] = []
        try:
            for position, index in enumerate(indexes):
                if conflict is not None and conflict.is_set():
                    unplanned = indexes[position:]
                    break
                write = writes[index] = plan(index)
                if write.touched & seen:
                    deferred.append(index)
                    continue
                seen |= write.touched
                if batch and size + write.size > TRANSACTION_ITEMS:
                    send(batch, last=False)
                    batch, size = [], 0
                batch.append(index)
                size += write.size
            if batch:
                send(batch, last=True)
        finally:
            wait(sent)  # every call ended, as leaving a pool of its own waited, before any error is raised
        lost = [i for future in sent for i in future.result()] + lost
        return lost + deferred + unplanned

    def _commit_batch(
        self, batch: list[int], writes: dict[int, ContactWrite], conflict: threading.Event | None = None
    ) -> list[int]:
        """One TransactWriteItems call; on cancellation, the groups that failed are set aside and
        the rest committed again (a cancelled call wrote nothing). ``conflict`` (presumed-new writes
        only) is set by a cancellation, and a call not yet sent when it is set is not sent at all:
        its groups are returned to be resolved by reading."""
        lost: list[int] = []
        if conflict is not None and conflict.is_set():
            return list(batch)
        while batch:
            items: list[dict[str, Any]] = []
            for index in batch:
                write = writes[index]
                contacts_repo.add_contact_with_keys(
                    items,
                    self.tenant_id,
                    write.target,
                    write.contact,
                    write.read_version,
                    write.old_keys,
                    write.new_keys,
                    keys_seen_free=write.keys_seen_free,
                )
            try:
                contacts_repo.transact(items)
                return lost
            except TransactWriteError as exc:
                reasons = exc.cancellation_reasons
                if not reasons:
                    raise
                failed, position = [], 0
                for index in batch:
                    size = writes[index].size
                    if any(r is not None for r in reasons[position : position + size]):
                        failed.append(index)
                    position += size
                if not failed:
                    raise
                if conflict is not None:
                    conflict.set()
                lost += failed
                batch = [i for i in batch if i not in failed]
        return lost

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
                _, created = contacts_repo.upsert_reporting_creation(
                    self.tenant_id, target, fields, created_at=candidate.created_at
                )
            except Conflict as exc:
                # Another writer claimed one of our keys between the look-up and the write: resolve
                # again (the key now names its owner) unless we were already updating that owner.
                if matched is None:
                    continue
                return WriteOutcome(candidate, reject=RejectRecord(first_row, "", "", exc.message))
            created = created or target == self.new_contact_id(candidate)
            return WriteOutcome(candidate, contact_id=target, created=created)
        reason = "the contact kept changing concurrently; import the row again"
        return WriteOutcome(candidate, reject=RejectRecord(first_row, "", "", reason))
