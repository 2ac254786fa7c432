"""Which dynamic segments one contact joins: the scheduled run's answer for a single contact.

Pure (no I/O, no pyarrow). Rules are evaluated in dependency order with the per-record evaluator; a
``{"segment": id}`` reference to a dynamic segment means "matches that segment's rule" (as in the
vectorised engine's run), one to a static segment means "is stored as a member". Placement (category
priority, static placements first, suppression with per-segment opt-out) is
``audience.evaluation.placement.place_contact``, the single-contact twin of the run's ``place_masks``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audience.evaluation.placement import place_contact
from audience.realtime.tenant_rules import TenantRules
from audience.rules import evaluate_record


@dataclass(frozen=True)
class Decision:
    matches: frozenset[str]  # dynamic segments whose rules the contact matches
    suppressed: bool
    joined: frozenset[str]  # dynamic segments it joins after categories and suppression


def membership_answer(tenant_rules: TenantRules, matches: set[str], static_memberships: set[str]):
    """What a ``{"segment": id}`` reference answers for one contact: a dynamic segment's rule (its
    id in ``matches``, filled in dependency order), a static segment's stored membership."""

    def member_of(segment_id: str) -> bool:
        if segment_id in tenant_rules.rules:
            return segment_id in matches
        return segment_id in static_memberships

    return member_of


def decide(
    tenant_rules: TenantRules,
    fields: Mapping[str, Any],
    *,
    contact_id: str,
    as_of: datetime,
    events: Sequence[Mapping[str, Any]] = (),
    static_memberships: Iterable[str] = (),
) -> Decision:
    """``static_memberships``: ids of the static segments the contact is stored in."""
    contact = {**fields, "contact_id": contact_id}
    stored = set(static_memberships)
    matches: set[str] = set()
    member_of = membership_answer(tenant_rules, matches, stored)
    options = {"as_of": as_of, "catalog": tenant_rules.catalog, "events": events, "member_of": member_of}
    for segment_id in tenant_rules.order:
        if evaluate_record(tenant_rules.rules[segment_id], contact, **options):
            matches.add(segment_id)
    policy = tenant_rules.policy
    suppressed = policy.active and policy.suppresses(
        contact, as_of=as_of, catalog=tenant_rules.catalog, events=events, member_of=member_of
    )
    joined = place_contact(matches, tenant_rules.static_categories(stored), tenant_rules.slots, suppressed)
    return Decision(frozenset(matches), bool(suppressed), frozenset(joined))
