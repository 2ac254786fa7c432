"""``GET /segments/{id}/explain/{contact_id}``: why a contact is (or is not) in a segment.

Built on the real-time check (``realtime.live.contact_view``: the stored contact, its activity, the
tenant's rules, ``decide``), so the answer is the one the stream would apply and the scheduled run
computes: the same per-record evaluator, references answered as ``decide`` answers them
(``membership_answer``), the same placement and suppression. The rule's tree comes from the
evaluator's tracing mode (``rules.trace_record``). Nothing is written.

``member`` is the stored membership; ``matches`` whether the rules select the contact now; ``reason``:

- ``rules_matched``: the rules select it and placement lets it in;
- ``unsubscribed``: as ``rules_matched`` (it is a member: SPEC keeps unsubscribed contacts in dynamic
  segments), but ``subscribed`` is false, so every export leaves it out;
- ``suppressed``: the rules select it but the tenant's suppression policy keeps it out;
- ``placed_in_other_segment``: the rules select it but its category placed it in ``placed_in``
  (a static segment of the category, or one of higher priority);
- ``rules_not_matched``: the rules do not select it (a ``member`` still true is a membership the next
  run or stream change removes);
- ``static_member`` / ``not_a_member``: a static segment (no rules; ``matches`` is ``member``), or a
  dynamic segment whose rules cannot be evaluated (``tree`` is null then).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from audience.realtime.changes import iso_stamp
from audience.realtime.decide import membership_answer
from audience.realtime.live import ContactView, contact_view
from audience.rules import trace_record
from audience.storage import segments_repo
from audience.storage.records import Segment


def explain(tenant: str, segment_id: str, contact_id: str, *, as_of: datetime | None = None) -> dict[str, Any]:
    """The explanation (module docstring); NotFound for an unknown segment or contact."""
    segment = segments_repo.get(tenant, segment_id)
    view = contact_view(tenant, contact_id, as_of=as_of)
    member = segment_id in view.stored
    answer: dict[str, Any] = {
        "segment_id": segment_id,
        "contact_id": contact_id,
        "as_of": iso_stamp(view.as_of),
        "member": member,
    }
    rule = view.rules.rules.get(segment_id) if segment.type == "dynamic" else None
    if rule is None:
        reason = "static_member" if member else "not_a_member"
        return {**answer, "matches": member, "reason": reason, "tree": None}
    decision = view.decision
    member_of = membership_answer(view.rules, set(decision.matches), set(view.static_memberships))
    contact = {**view.contact.fields, "contact_id": contact_id}
    tree = trace_record(rule, contact, as_of=view.as_of, catalog=view.rules.catalog, events=view.events,
                        member_of=member_of)
    matches = segment_id in decision.matches
    answer.update(matches=matches, suppressed=decision.suppressed)
    placed_in = None
    if not matches:
        reason = "rules_not_matched"
    elif segment_id in decision.joined:
        reason = "unsubscribed" if view.contact.fields.get("subscribed") is False else "rules_matched"
    elif decision.suppressed and not segment.ignore_suppression:
        reason = "suppressed"
    else:
        reason = "placed_in_other_segment"
        placed_in = _category_holder(view, segment)
    return {**answer, "reason": reason, **({"placed_in": placed_in} if placed_in else {}), "tree": tree}


def _category_holder(view: ContactView, segment: Segment) -> str | None:
    """The segment of ``segment``'s category that holds the contact: a static one it is stored in
    (those come first), else the dynamic one placement gave it."""
    for segment_id in sorted(view.static_memberships):
        if view.rules.static[segment_id].category == segment.category:
            return segment_id
    for segment_id in sorted(view.decision.joined):
        if view.rules.dynamic[segment_id].category == segment.category:
            return segment_id
    return None
