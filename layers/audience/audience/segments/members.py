"""A segment's members (GET/POST/DELETE /segments/{id}/members).

Listing joins each page of memberships with the contacts' fields (BatchGet), optionally reduced to
``fields``. Only static segments take members by hand (a dynamic segment's members follow its
rules: 409). Ids that are no contact of the tenant (never were, or erased since) are bad values, not
a bad request: the contacts that exist are added and the others listed in ``unknown_contacts``.
"""

from __future__ import annotations

from typing import Any

from audience.errors import Conflict, ValidationFailed
from audience.segments.placement import place, remove, remove_everyone
from audience.storage import contacts_repo, fields_repo, memberships_repo, segments_repo
from audience.storage.records import Page, Segment


def list_members(
    tenant: str,
    segment_id: str,
    *,
    fields: list[str] | None = None,
    limit: int = 50,
    start_key: dict[str, Any] | None = None,
) -> Page:
    segments_repo.get(tenant, segment_id)
    if fields:
        catalog = fields_repo.catalog(tenant)
        unknown = [f for f in fields if f not in catalog]
        if unknown:
            raise ValidationFailed(
                "unknown fields", [{"path": "/fields", "message": f"unknown field {f!r}"} for f in unknown]
            )
    page = memberships_repo.list_segment(tenant, segment_id, limit=limit, start_key=start_key)
    contacts = contacts_repo.get_many(tenant, [m.contact_id for m in page.items])
    rows = []
    for membership in page.items:
        contact = contacts.get(membership.contact_id)
        row = contact.as_row() if contact else {"contact_id": membership.contact_id}
        if fields:
            row = {
                "contact_id": membership.contact_id,
                **{f: row.get(f) for f in fields if f != "contact_id"},
            }
        rows.append(row)
    return Page(items=rows, next_key=page.next_key)


def static_segment(tenant: str, segment_id: str, action: str) -> Segment:
    segment = segments_repo.get(tenant, segment_id)
    if segment.type != "static":
        raise Conflict(f"cannot {action} a dynamic segment by hand: its members follow its rules")
    return segment


def add_members(tenant: str, segment_id: str, contact_ids: list[str]) -> dict[str, Any]:
    """``{"added", "moved", "member_count", "unknown_contacts"}``."""
    segment = static_segment(tenant, segment_id, "add members to")
    requested = list(dict.fromkeys(contact_ids))
    found = contacts_repo.get_many(tenant, requested)
    known = [cid for cid in requested if cid in found]
    if known:
        outcome: dict[str, Any] = place(tenant, segment, known, source="static")
    else:
        outcome = {"added": 0, "moved": 0, "member_count": segment.member_count}
    return {**outcome, "unknown_contacts": [cid for cid in requested if cid not in found]}


def remove_members(tenant: str, segment_id: str, contact_ids: list[str] | None) -> dict[str, int]:
    """Remove the given ids, or everyone when ``contact_ids`` is None."""
    segment = static_segment(tenant, segment_id, "remove members from")
    removed = remove_everyone(tenant, segment) if contact_ids is None else remove(tenant, segment, contact_ids)
    return {"removed": removed, "member_count": segments_repo.get(tenant, segment_id).member_count}
