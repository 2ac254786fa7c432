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

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist, TransactWriteError

from audience.errors import Conflict, NotFound, ValidationFailed
from audience.fields import SYSTEM_FIELDS
from audience.settings import get_settings
from audience.storage import history_repo, membership_history_repo, memberships_repo, segments_repo
from audience.storage.attributes import document_to_raw
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
    """One transaction: the contact (version-checked), claimed new keys, released old keys; the
    item's version moves on as pynamodb's own save would move it."""
    attributes = item.serialize()
    attributes.pop("version", None)
    items: list[dict[str, Any]] = []
    add_contact_with_keys(items, tenant, contact_id, attributes, item.version, old, new)
    transact(items)
    item.update_local_version_attribute()


def contact_attributes(
    tenant: str,
    contact_id: str,
    fields: dict[str, Any],
    *,
    created_at: str,
    updated_at: str,
    erased: bool = False,
    ttl: int | None = None,
) -> dict[str, Any]:
    """The attribute map ``ContactItem(...).serialize()`` gives for these values, without a model
    (~40 us a contact with pynamodb's attribute machinery and boto3's serialiser, a few here): the
    importer builds one per row. No version: ``add_contact_with_keys`` sets it. ``ttl`` in epoch
    seconds."""
    attributes = {
        "pk": {"S": tenant},
        "sk": {"S": contact_id},
        "fields": {"M": document_to_raw(fields)},
        "created_at": {"S": created_at},
        "updated_at": {"S": updated_at},
        "erased": {"BOOL": erased},
        "gsi1pk": {"S": tenant},
        "gsi1sk": {"S": f"{updated_at}#{contact_id}"},
    }
    if ttl is not None:
        attributes["ttl"] = {"N": str(int(ttl))}
    return attributes


def contact_key_writes(tenant: str, old: dict[str, str], new: dict[str, str]) -> tuple[list[str], list[str]]:
    """The partition keys of the key items a contact whose keys go from ``old`` to ``new`` claims,
    and of those it releases."""
    claims = [unique_pk(tenant, kind, value) for kind, value in new.items() if old.get(kind) != value]
    releases = [unique_pk(tenant, kind, value) for kind, value in old.items() if new.get(kind) != value]
    return claims, releases


def add_contact_with_keys(
    transaction: list[dict[str, Any]],
    tenant: str,
    contact_id: str,
    contact: dict[str, Any],
    read_version: int | None,
    old: dict[str, str],
    new: dict[str, str],
    *,
    keys_seen_free: bool = False,
) -> int:
    """Append one contact's writes to ``transaction`` (TransactWriteItems items, sent by
    ``transact``): the contact version-checked, each new key claimed only if free or already its
    own, each old key released only if still its own; returns how many items were added, in this
    order: contact, claims, releases (so a cancellation reason's position names its contact).

    ``contact`` is its attribute map without a version (``contact_attributes``); as pynamodb's
    ``VersionAttribute`` does on save, the version stored is ``read_version + 1`` (1 for a contact
    read as absent) and the put is conditioned on the version read (on its absence). The requests
    are the very ones pynamodb builds for the models (same items, expressions and placeholders),
    built as plain maps: pynamodb took ~230 us a contact with two keys.

    ``keys_seen_free``: the caller read the new keys as free, so a claim is conditioned on absence
    alone (the same condition for every contact); a key that turns out to be the contact's own fails
    the call, which the caller then retries through ``upsert``."""
    settings = get_settings()
    contacts_table, main_table = settings.contacts_table, settings.main_table
    if read_version is None:
        put = {
            "TableName": contacts_table,
            "Item": {**contact, "version": {"N": "1"}},
            "ConditionExpression": "attribute_not_exists (#0)",
            "ExpressionAttributeNames": {"#0": "version"},
        }
    else:
        put = {
            "TableName": contacts_table,
            "Item": {**contact, "version": {"N": str(int(read_version) + 1)}},
            "ConditionExpression": "#0 = :0",
            "ExpressionAttributeNames": {"#0": "version"},
            "ExpressionAttributeValues": {":0": {"N": str(int(read_version))}},
        }
    transaction.append({"Put": put})
    claims, releases = contact_key_writes(tenant, old, new)
    owner = {":0": {"S": contact_id}}
    free_or_mine = "(attribute_not_exists (#0) OR #1 = :0)"
    for pk in claims:
        item = {"pk": {"S": pk}, "sk": {"S": UNIQUE_SK}, "contact_id": {"S": contact_id}}
        if keys_seen_free:
            claim = {
                "TableName": main_table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists (#0)",
                "ExpressionAttributeNames": {"#0": "pk"},
            }
        else:
            claim = {
                "TableName": main_table,
                "Item": item,
                "ConditionExpression": free_or_mine,
                "ExpressionAttributeNames": {"#0": "pk", "#1": "contact_id"},
                "ExpressionAttributeValues": owner,
            }
        transaction.append({"Put": claim})
    for pk in releases:
        release = {
            "TableName": main_table,
            "Key": {"pk": {"S": pk}, "sk": {"S": UNIQUE_SK}},
            "ConditionExpression": free_or_mine,
            "ExpressionAttributeNames": {"#0": "pk", "#1": "contact_id"},
            "ExpressionAttributeValues": owner,
        }
        transaction.append({"Delete": release})
    return 1 + len(claims) + len(releases)


def transact(items: list[dict[str, Any]]) -> None:
    """One TransactWriteItems call through pynamodb's connection (its retries and signals), failing
    as pynamodb's ``TransactWrite`` fails: ``TransactWriteError`` with ``cancellation_reasons`` in
    the order of ``items``."""
    try:
        connection().dispatch("TransactWriteItems", {"TransactItems": items})
    except (BotoCoreError, ClientError) as exc:
        raise TransactWriteError("Failed to write transaction items", exc) from exc


def _raise_if_key_taken(tenant: str, contact_id: str, fields: dict[str, Any]) -> None:
    details = []
    for field in UNIQUE_FIELDS:
        owner = owner_of(tenant, field, fields.get(field))
        if owner is not None and owner != contact_id:
            details.append({"path": f"/{field}", "message": f"already used by contact {owner}"})
    if details:
        raise Conflict("another contact already has this " + " and ".join(d["path"][1:] for d in details), details)
