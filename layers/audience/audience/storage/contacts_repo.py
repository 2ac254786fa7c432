"""Contacts in ContactsTable (``pk = tenant``, ``sk = contact_id``) and their unique email/phone keys.

Uniqueness: a contact's normalised email and phone each own one MainTable item
(``T#{tenant}#EMAIL#{email}`` / ``T#{tenant}#PHONE#{e164}``). The contact and its key items are
written in one transaction whose conditions fail if a key already belongs to someone else, so two
concurrent writers can never both claim an address. Erasure leaves a tombstone (no fields,
``erased``, a TTL) so incremental snapshots learn about it through the ``by_updated`` index.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from audience.errors import Conflict, NotFound, ValidationFailed
from audience.fields import SYSTEM_FIELDS
from audience.storage import history_repo, membership_history_repo, memberships_repo, segments_repo
from audience.storage.base import connection, new_id, now_iso, versioned
from audience.storage.models import ContactItem, UniqueKeyItem, unique_pk
from audience.storage.paging import check_start_key, chunks, collect
from audience.storage.records import Contact, Page

UNIQUE_SK = "UNIQUE"
UNIQUE_FIELDS = {"email": "EMAIL", "phone": "PHONE"}
TOMBSTONE_DAYS = 35
WRITE_ATTEMPTS = 4
MAX_ID_LENGTH = 200


def unique_value(field: str, value: Any) -> str | None:
    """The key under which ``value`` is unique: trimmed, and lower-cased for emails; None if empty."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    return text.lower() if field == "email" else text


def _to_record(item: ContactItem) -> Contact:
    return Contact(
        contact_id=item.sk,
        fields=dict(item.fields or {}),
        created_at=item.created_at,
        updated_at=item.updated_at,
        erased=bool(item.erased),
        version=int(item.version or 0),
    )


def _load(tenant: str, contact_id: str) -> ContactItem | None:
    if not 0 < len(contact_id) <= MAX_ID_LENGTH:
        return None  # cannot exist; DynamoDB would reject the key
    try:
        return ContactItem.get(tenant, contact_id, consistent_read=True)
    except DoesNotExist:
        return None


def find(tenant: str, contact_id: str) -> Contact | None:
    """The live contact, or None when it does not exist or was erased."""
    item = _load(tenant, contact_id)
    return None if item is None or item.erased else _to_record(item)


def get(tenant: str, contact_id: str) -> Contact:
    contact = find(tenant, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id!r} not found")
    return contact


def get_many(tenant: str, contact_ids: Iterable[str]) -> dict[str, Contact]:
    """The live contacts among ``contact_ids`` (BatchGet), by id."""
    found: dict[str, Contact] = {}
    ids = [c for c in dict.fromkeys(contact_ids) if 0 < len(c) <= MAX_ID_LENGTH]
    for chunk in chunks(ids, 100):
        for item in ContactItem.batch_get([(tenant, c) for c in chunk]):
            if not item.erased:
                found[item.sk] = _to_record(item)
    return found


def owner_of(tenant: str, field: str, value: Any) -> str | None:
    """The contact id that owns this email/phone, or None."""
    key = unique_value(field, value)
    if key is None:
        return None
    try:
        return UniqueKeyItem.get(
            unique_pk(tenant, UNIQUE_FIELDS[field], key), UNIQUE_SK, consistent_read=True
        ).contact_id
    except DoesNotExist:
        return None


def upsert(tenant: str, contact_id: str | None, fields: dict[str, Any], *, replace: bool = False) -> Contact:
    """Create or update one contact and keep its email/phone keys unique.

    ``contact_id`` None: matched by email, then phone, else a new id. ``replace`` drops fields not
    given (PUT semantics); otherwise fields are merged and a None value removes that field.
    Raises Conflict when the email or phone belongs to another contact.
    """
    return upsert_reporting_creation(tenant, contact_id, fields, replace=replace)[0]


def upsert_reporting_creation(
    tenant: str,
    contact_id: str | None,
    fields: dict[str, Any],
    *,
    replace: bool = False,
    created_at: str | None = None,
) -> tuple[Contact, bool]:
    """``upsert``, also saying whether the contact was created; ``created_at`` (an import's file
    value) is the creation time of a contact this call creates, and ignored for an existing one."""
    if contact_id is not None and not 0 < len(contact_id) <= MAX_ID_LENGTH:
        raise ValidationFailed(
            "invalid contact id", [{"path": "/contact_id", "message": f"1-{MAX_ID_LENGTH} characters"}]
        )
    fields = {k: v for k, v in fields.items() if k not in SYSTEM_FIELDS}
    if contact_id is None:
        contact_id = owner_of(tenant, "email", fields.get("email")) or owner_of(tenant, "phone", fields.get("phone"))
    contact_id = contact_id or new_id()
    for _ in range(WRITE_ATTEMPTS):
        current = _load(tenant, contact_id)
        live = current is not None and not current.erased
        base = dict(current.fields or {}) if live and not replace else {}
        merged = {k: v for k, v in {**base, **fields}.items() if v is not None}
        stamp = now_iso()
        item = ContactItem(
            tenant,
            contact_id,
            fields=merged,
            created_at=current.created_at if live else (created_at or stamp),
            updated_at=stamp,
            erased=False,
            ttl=None,
            gsi1pk=tenant,
            gsi1sk=f"{stamp}#{contact_id}",
            **versioned(current.version if current is not None else None),
        )
        old_keys = unique_keys(current.fields if live else {})
        try:
            _write_with_keys(tenant, contact_id, item, old_keys, unique_keys(merged))
        except TransactWriteError:
            _raise_if_key_taken(tenant, contact_id, merged)
            continue  # the contact changed under us: read again and retry
        return _to_record(item), not live
    raise Conflict(f"contact {contact_id!r} is being changed concurrently; try again")


def erase(tenant: str, contact_id: str) -> bool:
    """Erase a contact: tombstone, free its email/phone, delete every membership.

    Returns False when there was no live contact. Segment counts and today's history are adjusted
    for the removed memberships.
    """
    for _ in range(WRITE_ATTEMPTS):
        current = _load(tenant, contact_id)
        if current is None or current.erased:
            return False
        stamp = now_iso()
        tombstone = ContactItem(
            tenant,
            contact_id,
            fields={},
            created_at=current.created_at,
            updated_at=stamp,
            erased=True,
            ttl=timedelta(days=TOMBSTONE_DAYS),
            gsi1pk=tenant,
            gsi1sk=f"{stamp}#{contact_id}",
            version=current.version,
        )
        try:
            _write_with_keys(tenant, contact_id, tombstone, unique_keys(current.fields or {}), {})
        except TransactWriteError:
            continue
        break
    else:
        raise Conflict(f"contact {contact_id!r} is being changed concurrently; try again")
    today = now_iso()[:10]
    for segment_id in memberships_repo.remove_contact(tenant, contact_id):
        total = segments_repo.adjust_member_count(tenant, segment_id, -1)
        if total is not None:
            history_repo.add_day(tenant, segment_id, today, 0, 1, total)
    membership_history_repo.erase_contact(tenant, contact_id)  # its history goes with it
    return True


def changed_since(tenant: str, since_iso: str | None) -> Iterator[Contact]:
    """Contacts (tombstones included) updated at or after ``since_iso``, in update order (GSI)."""
    condition = ContactItem.gsi1sk >= since_iso if since_iso else None
    for item in ContactItem.by_updated.query(tenant, condition):
        yield _to_record(item)


def iter_all(tenant: str, *, include_erased: bool = False) -> Iterator[Contact]:
    """Every contact of the tenant (paged Query on its partition)."""
    for item in ContactItem.query(tenant):
        if include_erased or not item.erased:
            yield _to_record(item)


def list_page(tenant: str, limit: int = 50, start_key: dict[str, Any] | None = None) -> Page:
    items = ContactItem.query(tenant, last_evaluated_key=check_start_key(start_key, tenant), page_size=limit + 1)
    return collect(
        items,
        limit,
        key_of=lambda i: {"pk": i.pk, "sk": i.sk},
        keep=lambda i: not i.erased,
        convert=_to_record,
    )


def unique_keys(fields: dict[str, Any]) -> dict[str, str]:
    """``{"EMAIL": value, "PHONE": value}`` for the non-empty ones."""
    keys = {}
    for field, kind in UNIQUE_FIELDS.items():
        value = unique_value(field, fields.get(field))
        if value is not None:
            keys[kind] = value
    return keys


def _write_with_keys(tenant: str, contact_id: str, item: ContactItem, old: dict[str, str], new: dict[str, str]) -> None:
    """One transaction: the contact (version-checked), claimed new keys, released old keys."""
    with TransactWrite(connection=connection()) as transaction:
        add_contact_with_keys(transaction, tenant, contact_id, item, old, new)


def contact_key_writes(
    tenant: str, contact_id: str, old: dict[str, str], new: dict[str, str]
) -> tuple[list[UniqueKeyItem], list[UniqueKeyItem]]:
    """The key items a contact whose keys go from ``old`` to ``new`` claims, and those it releases."""
    claims = [
        UniqueKeyItem(unique_pk(tenant, kind, value), UNIQUE_SK, contact_id=contact_id)
        for kind, value in new.items()
        if old.get(kind) != value
    ]
    releases = [
        UniqueKeyItem(unique_pk(tenant, kind, value), UNIQUE_SK)
        for kind, value in old.items()
        if new.get(kind) != value
    ]
    return claims, releases


def add_contact_with_keys(
    transaction: TransactWrite,
    tenant: str,
    contact_id: str,
    item: ContactItem,
    old: dict[str, str],
    new: dict[str, str],
    *,
    keys_seen_free: bool = False,
) -> int:
    """Add one contact's writes to ``transaction`` (the contact version-checked, each new key claimed
    only if free or already its own, each old key released only if still its own); returns how many
    transaction items were added, in this order: contact, claims, releases.

    ``keys_seen_free``: the caller read the new keys as free, so a claim is conditioned on absence
    alone (the same condition for every contact); a key that turns out to be the contact's own fails
    the call, which the caller then retries through ``upsert``."""
    mine = UniqueKeyItem.contact_id == contact_id
    claims, releases = contact_key_writes(tenant, contact_id, old, new)
    transaction.save(item)
    for key in claims:
        free = UniqueKeyItem.pk.does_not_exist()
        transaction.save(key, condition=free if keys_seen_free else free | mine)
    for key in releases:
        transaction.delete(key, condition=UniqueKeyItem.pk.does_not_exist() | mine)
    return 1 + len(claims) + len(releases)


def _raise_if_key_taken(tenant: str, contact_id: str, fields: dict[str, Any]) -> None:
    details = []
    for field in UNIQUE_FIELDS:
        owner = owner_of(tenant, field, fields.get(field))
        if owner is not None and owner != contact_id:
            details.append({"path": f"/{field}", "message": f"already used by contact {owner}"})
    if details:
        raise Conflict("another contact already has this " + " and ".join(d["path"][1:] for d in details), details)
