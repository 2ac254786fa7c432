"""Is this contact suppressed? The tenant's suppression settings applied to one contact.

Settings (``GET/PUT /settings/suppression``, stored by ``storage.suppression_repo``)::

    {"rules": <rule or null>,
     "received_at_least_never_clicked": {"enabled": bool, "min_received": int}}

``rules`` is any rule of the rule language: a contact it matches is suppressed. The second part is
the "global suppression" SMS platforms apply: a contact that received at least ``min_received``
messages (``sent_count``) and never clicked (``clicks_count`` empty or 0 and no ``last_clicked_at``)
is suppressed. Suppressed contacts are left out of dynamic segments and exports unless the segment
opts out (``ignore_suppression``); unsubscribed contacts (``subscribed = false``) are left out of
exports always (SPEC §1), opt-out or not. Pure (no pyarrow): the API may import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from audience.fields import FieldCatalog

ExclusionReason = Literal["unsubscribed", "suppressed"]


@dataclass(frozen=True)
class SuppressionPolicy:
    """A tenant's settings, parsed once and applied to many contacts."""

    rule_document: Mapping[str, Any] | None = None
    rule: Any = None  # the parsed rule (audience.rules), None when there is no rule
    min_received: int | None = None  # None: global suppression disabled

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None, catalog: FieldCatalog) -> SuppressionPolicy:
        document = document or {}
        rule_document = document.get("rules") or None
        rule = None
        if rule_document:
            from audience.rules import parse_rule

            rule = parse_rule(rule_document, catalog)
        threshold = document.get("received_at_least_never_clicked") or {}
        min_received = None
        if threshold.get("enabled"):
            min_received = max(int(threshold.get("min_received") or 1), 1)
        return cls(rule_document=rule_document, rule=rule, min_received=min_received)

    @property
    def active(self) -> bool:
        return self.rule is not None or self.min_received is not None

    @property
    def event_names(self) -> set[str]:
        """Activity events the rule looks at: the caller must supply them per contact."""
        return set(_walk(self.rule_document, "event"))

    @property
    def event_lookback_days(self) -> int | None:
        """How many days back the rule's event conditions look; None when one is unbounded."""
        nodes = list(_event_nodes(self.rule_document))
        days = [node.get("within_last_days") for node in nodes]
        if not nodes or any(not isinstance(d, int) or isinstance(d, bool) for d in days):
            return None
        return max(days)

    @property
    def segment_ids(self) -> set[str]:
        """Segments the rule refers to: the caller must answer membership for them."""
        return set(_walk(self.rule_document, "segment"))

    def as_rule_document(self) -> dict[str, Any] | None:
        """The whole policy as one rule of the rule language (None: suppresses nobody), so an
        evaluator that works on rules — the vectorised one over snapshots — applies exactly the
        same suppression as ``suppresses`` does per contact."""
        parts: list[dict[str, Any]] = []
        if self.min_received is not None:
            parts.append(received_but_never_clicked_rule(self.min_received))
        if self.rule_document:
            parts.append(dict(self.rule_document))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"any": parts}

    def suppresses(
        self,
        contact: Mapping[str, Any],
        *,
        as_of: datetime,
        catalog: FieldCatalog,
        events: Iterable[Any] = (),
        member_of: Callable[[str], bool] | None = None,
    ) -> bool:
        if self.min_received is not None and received_but_never_clicked(contact, self.min_received):
            return True
        if self.rule is None:
            return False
        from audience.rules import evaluate_record

        options: dict[str, Any] = {"as_of": as_of, "catalog": catalog, "events": tuple(events)}
        if member_of is not None:
            options["member_of"] = member_of
        return bool(evaluate_record(self.rule, contact, **options))


NO_SUPPRESSION = SuppressionPolicy()


def received_but_never_clicked(contact: Mapping[str, Any], min_received: int) -> bool:
    sent = _number(contact.get("sent_count"))
    clicks = _number(contact.get("clicks_count"))
    return sent >= min_received and clicks == 0 and not contact.get("last_clicked_at")


def received_but_never_clicked_rule(min_received: int) -> dict[str, Any]:
    """``received_but_never_clicked`` in the rule language (empty counts fail ``gte``/``gt``)."""
    return {
        "all": [
            {"field": "sent_count", "op": "gte", "value": min_received},
            {"not": {"field": "clicks_count", "op": "gt", "value": 0}},
            {"field": "last_clicked_at", "op": "is_empty"},
        ]
    }


def export_exclusion(
    contact: Mapping[str, Any],
    policy: SuppressionPolicy,
    *,
    ignore_suppression: bool,
    as_of: datetime,
    catalog: FieldCatalog,
    events: Iterable[Any] = (),
    member_of: Callable[[str], bool] | None = None,
) -> ExclusionReason | None:
    """Why the contact stays out of an export, or None when it goes in."""
    if contact.get("subscribed") is False:
        return "unsubscribed"
    if ignore_suppression or not policy.active:
        return None
    suppressed = policy.suppresses(contact, as_of=as_of, catalog=catalog, events=events, member_of=member_of)
    return "suppressed" if suppressed else None


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None or value == "":
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _event_nodes(node: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        if isinstance(node.get("event"), str):
            yield node
        for child in node.values():
            yield from _event_nodes(child)
    elif isinstance(node, list):
        for child in node:
            yield from _event_nodes(child)


def _walk(node: Any, key: str) -> Iterable[str]:
    """Every value under ``key`` in a rule document (``event`` names, ``segment`` ids)."""
    if isinstance(node, Mapping):
        value = node.get(key)
        if isinstance(value, str):
            yield value
        for child in node.values():
            yield from _walk(child, key)
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child, key)
