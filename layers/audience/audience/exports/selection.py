"""Which of a batch's contacts go into the file, decided for the whole batch at once.

In this order, each exclusion counted on the job: ``updated_since`` (``excluded_by_filter``),
``subscribed = false`` (``excluded_unsubscribed``, always), the tenant's suppression policy
(``excluded_suppressed``, unless the segment opts out). Suppression is the policy as one rule
(``SuppressionPolicy.as_rule_document``) run by the vectorised evaluator — the evaluator the property
tests keep in exact agreement with the per-record one — with the events its rule names (read once per
export, only as far back as it looks) and the members of the segments it names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from audience.evaluation.engine import contact_fields
from audience.fields import FieldCatalog
from audience.rules import parse_rule
from audience.rules.vectorised import SegmentEvaluator
from audience.suppression import SuppressionPolicy

SUPPRESSION = "suppression"


@dataclass
class Selection:
    updated_since: datetime | None
    evaluator: SegmentEvaluator | None  # None: nobody is suppressed (no policy, or the segment opts out)

    @classmethod
    def build(
        cls,
        policy: SuppressionPolicy,
        *,
        ignore_suppression: bool,
        updated_since: datetime | None,
        as_of: datetime,
        catalog: FieldCatalog,
        events: Callable[[], pa.Table | None],
        members_of: Callable[[str], pa.Array],
    ) -> Selection:
        document = None if ignore_suppression else policy.as_rule_document()
        if document is None:
            return cls(updated_since, None)
        rule = parse_rule(document, catalog)
        evaluator = SegmentEvaluator(
            [(SUPPRESSION, rule)], as_of=as_of, catalog=catalog,
            events=events() if policy.event_names else None,
            memberships={sid: members_of(sid) for sid in policy.segment_ids},
        )
        return cls(updated_since, evaluator)

    @staticmethod
    def columns(policy: SuppressionPolicy, updated_since: Any) -> set[str]:
        """Contact columns the selection reads."""
        needed = {"subscribed"} | ({"updated_at"} if updated_since is not None else set())
        document = policy.as_rule_document()
        return needed | (contact_fields(document) if document else set())

    def apply(self, batch: pa.RecordBatch, counts: dict[str, int]) -> pa.RecordBatch:
        """The batch's contacts that go into the file; ``counts`` grows by the ones left out."""
        keep = None
        if self.updated_since is not None:
            since = pa.scalar(self.updated_since, pa.timestamp("us", "UTC"))
            recent = pc.fill_null(pc.greater_equal(batch.column("updated_at"), since), False)
            counts["excluded_by_filter"] += batch.num_rows - _true(recent)
            keep = recent
        unsubscribed = pc.fill_null(pc.equal(batch.column("subscribed"), False), False)
        if keep is not None:
            unsubscribed = pc.and_(unsubscribed, keep)
        counts["excluded_unsubscribed"] += _true(unsubscribed)
        keep = pc.invert(unsubscribed) if keep is None else pc.and_(keep, pc.invert(unsubscribed))
        if self.evaluator is not None and _true(keep):
            suppressed = pc.and_(self.evaluator.masks(batch)[SUPPRESSION], keep)
            counts["excluded_suppressed"] += _true(suppressed)
            keep = pc.and_(keep, pc.invert(suppressed))
        return batch if _true(keep) == batch.num_rows else batch.filter(keep)


def _true(mask: pa.BooleanArray) -> int:
    return int(pc.sum(mask).as_py() or 0)
