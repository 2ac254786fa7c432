"""One streaming pass over snapshot batches: every dynamic segment's rule, the tenant's suppression
policy and category placement, leaving each segment's member ids.

Semantics decided here (docs/architecture.md, "Evaluation"):
- ``{"segment": X}`` in a rule means X's *rule match* when X is a dynamic segment evaluated in the
  same run (before category placement and suppression, so a reference never depends on priorities),
  and X's stored members when X is static (or a dynamic segment outside the run: its last result).
- The suppression policy is evaluated as one more rule in the same pass (``SUPPRESSION``).

A ``Plan`` holds everything the pass needs apart from the batches, so shards of a run (disjoint sets
of snapshot files) evaluate independently with the same plan and their member ids simply concatenate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from audience.evaluation.placement import Slot, place_masks
from audience.fields import FieldCatalog
from audience.keysets import KeySet
from audience.rules import Rule
from audience.rules.vectorised import (
    EventSource,
    SegmentEvaluator,
    contains,
    is_strictly_sorted,
    select_members,
    sorted_ids,
)

SUPPRESSION = "__suppression__"  # cannot clash: segment ids are 32 hex characters


@dataclass
class Plan:
    as_of: datetime
    catalog: FieldCatalog
    rules: dict[str, Rule]  # dynamic segments evaluated in the pass (targets and what they reference)
    slots: list[Slot]  # segments whose members the pass produces (placement takes part)
    suppression: Rule | None = None
    events: pa.Table | EventSource | None = None  # the run's: the event log (``eventlog.LogEvents``)
    memberships: dict[str, pa.Array] = field(default_factory=dict)  # referenced segments outside the pass
    # ... those known by their contact keys too (last run's state in the snapshot's key space): batches
    # read with keys look them up by key
    member_keys: dict[str, KeySet] = field(default_factory=dict)
    static_by_category: dict[str, pa.Array] = field(default_factory=dict)  # ids placed statically per category
    columns: list[str] | None = None  # contact columns the rules read (None: all)

    def evaluator(self) -> SegmentEvaluator:
        segments = list(self.rules.items())
        if self.suppression is not None:
            segments.append((SUPPRESSION, self.suppression))
        return SegmentEvaluator(
            segments, as_of=self.as_of, catalog=self.catalog, events=self.events, memberships=self.memberships,
            member_keys=self.member_keys,
        )


def placed_batches(
    plan: Plan, batches: Iterable[pa.RecordBatch], evaluator: SegmentEvaluator | None = None, *,
    threads: int | None = None,
) -> Iterator[tuple[pa.RecordBatch, dict[str, pa.BooleanArray]]]:
    """Each batch with, per slot of the plan, which of its contacts join the segment, in the batches'
    order. Batches are evaluated and placed on ``threads`` threads (default: `evaluation_threads()`,
    ``EVALUATION_THREADS``), a few batches ahead of the caller (`SegmentEvaluator.stream`)."""
    evaluator = evaluator or plan.evaluator()
    # Each category's static members sorted once, so a batch hashes only its own id range of them.
    static = {category: _sorted_once(members) for category, members in plan.static_by_category.items()
              if len(members)}

    def place(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, dict[str, pa.BooleanArray]]:
        contact_ids = batch.column(batch.schema.get_field_index("contact_id"))
        masks = evaluator.masks(batch)
        suppressed = masks.get(SUPPRESSION)
        taken = {category: contains(members, contact_ids) for category, members in static.items()}
        matches = {s.id: masks[s.id] for s in plan.slots if s.id in masks}
        return batch, place_masks(matches, taken, plan.slots, suppressed)

    yield from evaluator.stream(batches, place, threads=threads)


def _sorted_once(members: pa.Array) -> pa.Array:
    """Static ids in sort order. A category's one static segment comes sorted already (its members are
    read in sort-key order): one comparison of neighbours instead of a sort (~0.1 s for 100k ids)."""
    ordered = isinstance(members, pa.Array) and pa.types.is_string(members.type) and is_strictly_sorted(members)
    return members if ordered else sorted_ids(members)


def evaluate(
    plan: Plan, batches: Iterable[pa.RecordBatch], evaluator: SegmentEvaluator | None = None, *,
    threads: int | None = None,
) -> dict[str, pa.Array]:
    """Member ids of every slot of the plan over these batches (one pass, one bit per contact kept)."""
    ids: list[pa.Array] = []
    bits: dict[str, list[pa.BooleanArray]] = {slot.id: [] for slot in plan.slots}
    for batch, placed in placed_batches(plan, batches, evaluator, threads=threads):
        ids.append(batch.column(batch.schema.get_field_index("contact_id")))
        for sid, mask in placed.items():
            bits[sid].append(mask)
    return select_members(ids, bits, threads=threads)


def failing_segments(plan: Plan, batch: pa.RecordBatch | None) -> dict[str, str]:
    """Which of the plan's rules fail to compile or to evaluate (on ``batch``), each with its reason:
    tried one segment at a time, so one broken segment never stops the others."""
    failures: dict[str, str] = {}
    events = plan.events
    if batch is not None and batch.num_rows and hasattr(events, "for_contacts"):
        # each try reads only the batch's contacts' events (their id range), not the whole log
        bounds = pc.min_max(batch.column(batch.schema.get_field_index("contact_id")))
        events = events.for_contacts(bounds["min"].as_py(), bounds["max"].as_py())
    for sid, rule in plan.rules.items():
        try:
            single = SegmentEvaluator(
                [(sid, rule)], as_of=plan.as_of, catalog=plan.catalog, events=events,
                memberships=plan.memberships,
            )
            if batch is not None:
                single.masks(batch)
        except Exception as exc:  # noqa: BLE001 - any failure marks the segment, the run goes on
            failures[sid] = f"{type(exc).__name__}: {exc}"
    return failures


def contact_fields(document: Any) -> set[str]:
    """Contact fields a rule document reads (not event properties), to read only those columns."""
    found: set[str] = set()
    if isinstance(document, Mapping):
        if "event" in document:
            return found
        if isinstance(document.get("field"), str):
            found.add(document["field"])
        for key in ("all", "any"):
            for child in document.get(key) or []:
                found |= contact_fields(child)
        if "not" in document:
            found |= contact_fields(document["not"])
    return found


def uses_events(document: Any) -> bool:
    if isinstance(document, Mapping):
        return "event" in document or any(uses_events(v) for v in document.values())
    if isinstance(document, list):
        return any(uses_events(v) for v in document)
    return False


def events_window(documents: Iterable[Any], as_of: datetime) -> tuple[bool, datetime | None]:
    """Whether any of the rule documents reads activity, and from when (None: every day)."""
    documents = [d for d in documents if d is not None]
    if not any(uses_events(d) for d in documents):
        return False, None
    days = [event_lookback_days(d) for d in documents if uses_events(d)]
    if any(d is None for d in days):
        return True, None
    return True, as_of - timedelta(days=max(days) + 1)


def event_lookback_days(document: Any) -> int | None:
    """The longest ``within_last_days`` of the document's event conditions; None if any is unbounded."""
    days: list[int | None] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if isinstance(node.get("event"), str):
                days.append(node.get("within_last_days"))
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    if not days or any(not isinstance(d, int) for d in days):
        return None
    return max(days)
