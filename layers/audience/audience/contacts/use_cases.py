"""Contact use cases: what ``/contacts`` does, in storage calls. No HTTP, no Lambda event."""

from __future__ import annotations

from typing import Any

from audience.contacts.validation import check_contact_id, check_fields
from audience.errors import NotFound
from audience.storage import contacts_repo, fields_repo, memberships_repo, segments_repo, tenants_repo
from audience.storage.records import Contact, Page


def upsert(tenant: str, contact_id: str, body: Any, *, merge: bool = False) -> tuple[Contact, bool]:
    """Create or update one contact; returns it and whether it was created.

    Default (PUT) replaces the contact's fields with the body's; ``merge`` keeps fields the body
    does not name and removes those it sets to null. Email/phone owned by another contact: 409.
    """
    check_contact_id(contact_id)
    tenant_record = tenants_repo.get_tenant(tenant)
    values = check_fields(
        body,
        fields_repo.catalog(tenant),
        contact_id=contact_id,
        default_region=tenant_record.default_region if tenant_record else None,
        allow_null=merge,
    )
    existed = contacts_repo.find(tenant, contact_id) is not None
    contact = contacts_repo.upsert(tenant, contact_id, values, replace=not merge)
    return contact, not existed


def get(tenant: str, contact_id: str) -> Contact:
    return contacts_repo.get(tenant, contact_id)


def list_page(tenant: str, limit: int, start_key: dict[str, Any] | None) -> Page:
    return contacts_repo.list_page(tenant, limit=limit, start_key=start_key)


def erase(tenant: str, contact_id: str) -> None:
    """Erase (tombstone) the contact and remove every membership it had; 404 when absent."""
    if not contacts_repo.erase(tenant, contact_id):
        raise NotFound(f"contact {contact_id!r} not found")


def segments_of(tenant: str, contact_id: str) -> list[dict[str, Any]]:
    """The segments the contact is a member of now (as stored), with how it got there."""
    contacts_repo.get(tenant, contact_id)
    memberships = memberships_repo.segments_of(tenant, contact_id)
    segments = segments_repo.get_many(tenant, [m.segment_id for m in memberships])
    out = []
    for membership in sorted(memberships, key=lambda m: m.segment_id):
        segment = segments.get(membership.segment_id)
        if segment is None:  # deleted segment whose memberships are still being cleaned up
            continue
        out.append(
            {
                "id": segment.id,
                "name": segment.name,
                "type": segment.type,
                "category": segment.category,
                "public": segment.public,
                "source": membership.source,
                "added_at": membership.added_at,
            }
        )
    return out


def live_segments_of(tenant: str, contact_id: str) -> list[dict[str, Any]]:
    """The segments the contact would be in if every dynamic segment were evaluated now (nothing
    written); same rows as ``segments_of``. Imported lazily: the real-time check pulls in the
    placement code, and the activity reader (pyarrow) only when a rule needs events."""
    from audience.realtime.live import live_segments

    return live_segments(tenant, contact_id)
