"""``GET /contacts/{id}/segments?live=true``: the segments a contact is in if evaluated now.

The same check the stream runs (``decide``), against the stored contact, with nothing written:
static memberships as stored, dynamic ones as the rules, categories and suppression place the
contact at this instant. pyarrow is loaded only when a rule looks at activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audience.realtime.activity import ActivityWindow
from audience.realtime.changes import iso_stamp
from audience.realtime.decide import Decision, decide
from audience.realtime.tenant_rules import TenantRules, load_tenant_rules
from audience.settings import get_settings
from audience.storage import contacts_repo, memberships_repo
from audience.storage.records import Contact, Membership


def s3_client() -> Any:
    import boto3

    settings = get_settings()
    return boto3.client("s3", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)


@dataclass(frozen=True)
class ContactView:
    """What the real-time check reads of one contact: its record, the tenant's rules, its stored
    memberships, its activity in the rules' window, and the decision ``decide`` makes from them."""

    contact: Contact
    rules: TenantRules
    stored: dict[str, Membership]
    events: list[dict[str, Any]]
    as_of: datetime
    decision: Decision

    @property
    def static_memberships(self) -> list[str]:
        return [sid for sid in self.stored if sid in self.rules.static]


def contact_view(tenant: str, contact_id: str, *, as_of: datetime | None = None) -> ContactView:
    """The stored contact (NotFound when absent) evaluated at ``as_of`` (default now), nothing written."""
    contact = contacts_repo.get(tenant, contact_id)
    as_of = as_of or datetime.now(UTC)
    rules = load_tenant_rules(tenant)
    stored = {m.segment_id: m for m in memberships_repo.segments_of(tenant, contact_id)}
    events: list[dict[str, Any]] = []
    if rules.needs_events:
        events = ActivityWindow(tenant, rules.events_since(as_of), s3_client).events_of(contact_id)
    decision = decide(
        rules,
        contact.fields,
        contact_id=contact_id,
        as_of=as_of,
        events=events,
        static_memberships=[sid for sid in stored if sid in rules.static],
    )
    return ContactView(contact, rules, stored, events, as_of, decision)


def live_segments(tenant: str, contact_id: str, *, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Rows of ``{"id", "name", "type", "category", "public", "source", "added_at"}`` by segment id;
    ``added_at`` of a dynamic segment the contact would join now but is not stored in is ``as_of``."""
    view = contact_view(tenant, contact_id, as_of=as_of)
    rules, stored, decision, as_of = view.rules, view.stored, view.decision, view.as_of
    now = iso_stamp(as_of)
    rows = []
    for segment_id in sorted({*decision.joined, *(sid for sid in stored if sid in rules.static)}):
        segment = rules.dynamic.get(segment_id) or rules.static[segment_id]
        membership = stored.get(segment_id)
        rows.append(
            {
                "id": segment.id,
                "name": segment.name,
                "type": segment.type,
                "category": segment.category,
                "public": segment.public,
                "source": membership.source if membership else "dynamic",
                "added_at": membership.added_at if membership else now,
            }
        )
    return rows
