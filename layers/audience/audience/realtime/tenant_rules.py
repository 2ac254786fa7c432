"""What the real-time check needs to know of one tenant, read once per stream batch (or API call).

Every dynamic segment with its parsed rule, in dependency order; the placement slots the scheduled
run uses; static segments (their memberships are facts, not rules); the field catalog; the
suppression policy; and how far back the rules look into the event log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from audience.evaluation.placement import Slot
from audience.fields import FieldCatalog
from audience.rules import EventCondition, Rule, RuleValidationError, dependency_order, parse_rule
from audience.rules.refs import iter_nodes
from audience.storage import fields_repo, segments_repo, suppression_repo
from audience.storage.records import Segment
from audience.suppression import SuppressionPolicy

logger = Logger(service="realtime")


@dataclass(frozen=True)
class TenantRules:
    tenant: str
    catalog: FieldCatalog
    dynamic: Mapping[str, Segment]  # id -> segment, only those whose rules parse
    rules: Mapping[str, Rule]  # id -> parsed rule
    order: tuple[str, ...]  # dependency order: referenced segments first
    slots: tuple[Slot, ...]
    static: Mapping[str, Segment]
    policy: SuppressionPolicy
    activity_rules: tuple[Rule, ...] = field(default=())  # rules with activity conditions

    @property
    def needs_events(self) -> bool:
        return bool(self.activity_rules)

    def events_since(self, as_of: datetime) -> datetime | None:
        """The earliest event any rule can look at (None: some condition has no window)."""
        days: list[int] = []
        for rule in self.activity_rules:
            for node in iter_nodes(rule):
                if isinstance(node, EventCondition):
                    if node.within_last_days is None:
                        return None
                    days.append(node.within_last_days)
        return as_of - timedelta(days=max(days)) if days else None

    def static_categories(self, segment_ids: Iterable[str]) -> set[str]:
        """Categories in which these memberships are static placements."""
        return {s.category for sid in segment_ids if (s := self.static.get(sid)) is not None and s.category}


def load_tenant_rules(tenant: str) -> TenantRules:
    return build_tenant_rules(
        tenant, segments_repo.all_segments(tenant), fields_repo.catalog(tenant), suppression_repo.get(tenant).document
    )


def build_tenant_rules(
    tenant: str, segments: Iterable[Segment], catalog: FieldCatalog, suppression: Mapping[str, Any] | None
) -> TenantRules:
    """From stored records; a dynamic segment whose rules no longer parse (a custom field changed
    type, say) is left out and logged, as the scheduled run marks it failed and moves on."""
    dynamic: dict[str, Segment] = {}
    rules: dict[str, Rule] = {}
    static: dict[str, Segment] = {}
    for segment in segments:
        if segment.type != "dynamic":
            static[segment.id] = segment
            continue
        if not segment.rules:
            continue
        try:
            rules[segment.id] = parse_rule(segment.rules, catalog)
        except RuleValidationError as exc:
            logger.warning("segment rules do not parse; skipped", segment_id=segment.id, error=str(exc))
            continue
        dynamic[segment.id] = segment
    policy = SuppressionPolicy.from_document(suppression, catalog)
    activity = [r for r in (*rules.values(), policy.rule) if r is not None and _has_activity(r)]
    return TenantRules(
        tenant=tenant,
        catalog=catalog,
        dynamic=dynamic,
        rules=rules,
        order=tuple(dependency_order(rules)),
        slots=tuple(Slot.of(s) for s in dynamic.values()),
        static=static,
        policy=policy,
        activity_rules=tuple(activity),
    )


def _has_activity(rule: Rule) -> bool:
    return any(isinstance(node, EventCondition) for node in iter_nodes(rule))
