"""The vectorised evaluator: every segment of a tenant in one pass over Arrow record batches.

Rules compile once into closures over `pyarrow.compute` kernels. Every leaf yields a boolean array
with no nulls (empty values already decided by SPEC's two-valued rule), so AND/OR/NOT over them are
exact, matching the per-record evaluator bit for bit. Activity conditions are aggregated per contact
once per run (Arrow group_by) and joined to each batch by contact id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from audience.columnar import arrow_type
from audience.fields import FieldCatalog, FieldType
from audience.rules.model import (
    AllOf,
    AnyOf,
    EventCondition,
    FieldCondition,
    Not,
    PropertyCondition,
    Rule,
    SegmentRef,
    parse_instant,
    rule_to_json,
)
from audience.rules.operators import NEGATIONS, NUMBER_PATTERN
from audience.rules.record import as_utc, numeric_property_condition
from audience.rules.refs import dependency_order
from audience.rules.text import fold

Mask = pa.BooleanArray
_TS = pa.timestamp("us", tz="UTC")


@dataclass
class _Batch:
    """One record batch plus per-batch caches shared by all segments' leaves."""

    batch: pa.RecordBatch
    masks: dict[str, Mask] = field(default_factory=dict)
    leaves: dict[str, Mask] = field(default_factory=dict)
    lowered: dict[str, pa.Array] = field(default_factory=dict)
    activity_rows: pa.Array | None = None  # each contact's row in the run's activity index (null: no events)

    @property
    def size(self) -> int:
        return self.batch.num_rows

    def column(self, name: str, field_type: FieldType) -> pa.Array:
        index = self.batch.schema.get_field_index(name)
        if index < 0:
            return pa.nulls(self.size, arrow_type(field_type))
        column = self.batch.column(index)
        wanted = arrow_type(field_type)
        if pa.types.is_dictionary(column.type) and column.type.value_type == wanted:
            return column  # leaves decide per distinct value (see _per_distinct_value)
        if column.type == wanted:
            return column
        # Timestamps finer than microseconds (ns from other writers) are truncated, as Python datetimes are.
        return column.cast(wanted, safe=not pa.types.is_timestamp(column.type))

    def contact_ids(self) -> pa.Array:
        return self.batch.column(self.batch.schema.get_field_index("contact_id"))

    def lowered_column(self, name: str, values: pa.Array) -> pa.Array:
        found = self.lowered.get(name)
        if found is None:
            found = self.lowered[name] = _lower(values)
        return found


class SegmentEvaluator:
    """Compiled rules of many segments; `masks(batch)` evaluates them all on one batch."""

    def __init__(
        self,
        segments: Sequence[tuple[str, Rule]],
        *,
        as_of: datetime,
        catalog: FieldCatalog,
        events: pa.Table | None = None,
        memberships: Mapping[str, pa.Array] | None = None,
    ):
        self.as_of = as_utc(as_of)
        self.catalog = catalog
        self.events = events
        # Other segments' members, sorted and distinct on first use, looked up per batch like activity.
        self.memberships = dict(memberships or {})
        self._sorted_members: dict[str, pa.Array] = {}
        rules = dict(segments)
        self.order = dependency_order(rules)
        self._activity: dict[str, tuple[pa.Array, pa.Array, bool]] = {}
        self._activity_keys: pa.Array | None = None
        self._aligned: dict[str, tuple[pa.Array, bool]] = {}
        self._compiled = {sid: self._compile(rules[sid]) for sid in self.order}

    @property
    def segment_ids(self) -> list[str]:
        return list(self.order)

    def masks(self, batch: pa.RecordBatch) -> dict[str, Mask]:
        state = _Batch(batch)
        for sid in self.order:
            state.masks[sid] = self._compiled[sid](state)
        return state.masks

    # -- compilation ---------------------------------------------------------------------------

    def _compile(self, rule: Rule) -> Callable[[_Batch], Mask]:
        if isinstance(rule, AllOf | AnyOf):
            children = [self._compile(c) for c in (rule.all if isinstance(rule, AllOf) else rule.any)]
            combine = pc.and_ if isinstance(rule, AllOf) else pc.or_

            def group(state: _Batch) -> Mask:
                result = children[0](state)
                for child in children[1:]:
                    result = combine(result, child(state))
                return result

            return group
        if isinstance(rule, Not):
            inner = self._compile(rule.not_)
            return lambda state: pc.invert(inner(state))
        if isinstance(rule, SegmentRef):
            return self._compile_reference(rule.segment)
        key = json.dumps(rule_to_json(rule), sort_keys=True)
        if isinstance(rule, FieldCondition):
            field_type = self.catalog.type_of(rule.field)
            leaf = self._compile_field(rule, field_type)
        else:
            leaf = self._compile_activity(rule, key)

        def cached(state: _Batch) -> Mask:
            found = state.leaves.get(key)
            if found is None:
                found = state.leaves[key] = leaf(state)
            return found

        return cached

    def _compile_reference(self, segment_id: str) -> Callable[[_Batch], Mask]:
        def reference(state: _Batch) -> Mask:
            if segment_id in state.masks:
                return state.masks[segment_id]
            members = self._members(segment_id)
            if len(members) == 0:
                return _constant(False, state.size)
            return pc.is_valid(_positions(members, state.contact_ids()))

        return reference

    def _members(self, segment_id: str) -> pa.Array:
        """Sorted distinct member ids of a segment outside this run (none when unknown)."""
        if segment_id not in self._sorted_members:
            self._sorted_members[segment_id] = _sorted_unique(self.memberships.get(segment_id))
        return self._sorted_members[segment_id]

    def _compile_field(self, cond: FieldCondition, field_type: FieldType) -> Callable[[_Batch], Mask]:
        def leaf(state: _Batch) -> Mask:
            values = state.column(cond.field, field_type)
            if pa.types.is_dictionary(values.type):
                return _per_distinct_value(values, lambda distinct, lowered: condition_mask(
                    field_type, cond.op, cond.value, distinct, self.as_of, lowered))
            return condition_mask(field_type, cond.op, cond.value, values, self.as_of,
                                  lambda: state.lowered_column(cond.field, values))

        return leaf

    def _compile_activity(self, cond: EventCondition, key: str) -> Callable[[_Batch], Mask]:
        agg = cond.aggregate
        result_type = FieldType.DATETIME if agg.fn in ("first_at", "last_at") else FieldType.NUMBER

        def leaf(state: _Batch) -> Mask:
            aligned, zero_default = self._aligned_aggregate(cond, key)
            per_contact = aligned.take(self._activity_rows(state))
            if zero_default:
                per_contact = pc.fill_null(per_contact, 0.0)
            return condition_mask(result_type, agg.op, agg.value, per_contact, self.as_of,
                                  lambda: _lower(per_contact))

        return leaf

    def _activity_index(self) -> pa.Array:
        """Sorted distinct ids of contacts with any event: the rows every aggregate is aligned to."""
        if self._activity_keys is None:
            if self.events is None or self.events.num_rows == 0:
                self._activity_keys = pa.array([], pa.string())
            else:
                self._activity_keys = _sorted_unique(self.events.column("contact_id"))
        return self._activity_keys

    def _aligned_aggregate(self, cond: EventCondition, key: str) -> tuple[pa.Array, bool]:
        """A condition's per-contact aggregate laid out on the activity index (null: no such events)."""
        if key not in self._aligned:
            keys, values, zero_default = self._aggregate(cond, key)
            index = self._activity_index()
            self._aligned[key] = (values.take(pc.index_in(index, value_set=keys)), zero_default)
        return self._aligned[key]

    def _activity_rows(self, state: _Batch) -> pa.Array:
        """Each batch contact's row in the activity index, looked up once per batch for every activity leaf.

        Only the index's slice between the batch's smallest and largest id is hashed, so batches of a
        snapshot ordered by contact id cost time in proportion to the batch, not to the whole tenant."""
        if state.activity_rows is None:
            state.activity_rows = _positions(self._activity_index(), state.contact_ids())
        return state.activity_rows

    def _aggregate(self, cond: EventCondition, key: str) -> tuple[pa.Array, pa.Array, bool]:
        """Per-contact aggregate of the events a condition selects, computed once per run."""
        if key in self._activity:
            return self._activity[key]
        agg = cond.aggregate
        zero_default = agg.fn in ("count", "sum")
        events = self.events
        value_type = _TS if agg.fn in ("first_at", "last_at") else pa.float64()
        if events is None or events.num_rows == 0:
            found = (pa.array([], pa.string()), pa.array([], value_type), zero_default)
            self._activity[key] = found
            return found
        occurred = events.column("occurred_at")
        if occurred.type != _TS:
            occurred = occurred.cast(_TS, safe=False)
        now = pa.scalar(self.as_of, _TS)
        mask = pc.and_(pc.equal(events.column("event"), cond.event), pc.less_equal(occurred, now))
        if cond.within_last_days is not None:
            start = pa.scalar(self.as_of - timedelta(days=cond.within_last_days), _TS)
            mask = pc.and_(mask, pc.greater_equal(occurred, start))
        mask = pc.fill_null(mask, False)
        selected = events.filter(mask)
        properties = selected.column("properties")
        for where in cond.where:
            mask = property_mask(where, pc.map_lookup(properties, pa.scalar(where.field), "first"))
            selected = selected.filter(mask)
            properties = selected.column("properties")
        contact_ids = selected.column("contact_id")
        if agg.fn == "count":
            grouped = pa.table({"contact_id": contact_ids}).group_by("contact_id").aggregate([("contact_id", "count")])
            values = grouped.column("contact_id_count")
        elif agg.fn in ("first_at", "last_at"):
            fn = "min" if agg.fn == "first_at" else "max"
            table = pa.table({"contact_id": contact_ids, "v": selected.column("occurred_at").cast(_TS, safe=False)})
            grouped = table.group_by("contact_id").aggregate([("v", fn)])
            values = grouped.column(f"v_{fn}")
        else:
            numbers = parse_numbers(pc.map_lookup(properties, pa.scalar(agg.field), "first"))
            table = pa.table({"contact_id": contact_ids, "v": numbers}).filter(pc.is_valid(numbers))
            fn = {"sum": "sum", "min": "min", "max": "max", "avg": "mean"}[agg.fn]
            grouped = table.group_by("contact_id").aggregate([("v", fn)])
            values = grouped.column(f"v_{fn}")
        found = (_flat(grouped.column("contact_id")), _flat(values).cast(value_type), zero_default)
        self._activity[key] = found
        return found


def compile_segments(
    segments: Sequence[tuple[str, Rule]],
    *,
    as_of: datetime,
    catalog: FieldCatalog,
    events: pa.Table | None = None,
    memberships: Mapping[str, pa.Array] | None = None,
) -> SegmentEvaluator:
    """Compile once, then stream: `evaluator.masks(batch)` per batch, in any order, on any shard."""
    return SegmentEvaluator(segments, as_of=as_of, catalog=catalog, events=events, memberships=memberships)


def evaluate_segments(
    segments: Sequence[tuple[str, Rule]],
    batches: Iterable[pa.RecordBatch],
    *,
    as_of: datetime,
    catalog: FieldCatalog,
    events: pa.Table | None = None,
    memberships: Mapping[str, pa.Array] | None = None,
) -> dict[str, pa.Array]:
    """The contact ids each segment's rule selects, in one pass over `batches`."""
    evaluator = SegmentEvaluator(segments, as_of=as_of, catalog=catalog, events=events, memberships=memberships)
    # Keep the id column and one bit per contact and segment while streaming; filter once at the end,
    # so each segment's ids are copied once (not per batch and again to concatenate).
    ids: list[pa.Array] = []
    masks: dict[str, list[Mask]] = {sid: [] for sid in evaluator.segment_ids}
    for batch in batches:
        ids.append(batch.column(batch.schema.get_field_index("contact_id")))
        for sid, mask in evaluator.masks(batch).items():
            masks[sid].append(mask)
    everyone = pa.chunked_array(ids, pa.string())
    members: dict[str, pa.Array] = {}
    for sid in list(masks):
        selected = everyone.filter(pa.chunked_array(masks.pop(sid), pa.bool_()))
        members[sid] = _flat(selected) if selected.num_chunks else pa.array([], pa.string())
    return members


# ---------------------------------------------------------------------------------------------------
# Leaves


def condition_mask(
    field_type: FieldType,
    op: str,
    literal: Any,
    values: pa.Array,
    as_of: datetime,
    lowered: Callable[[], pa.Array],
) -> Mask:
    """One condition over a column, as a null-free boolean array (SPEC §2 semantics)."""
    if op in NEGATIONS:
        return pc.invert(condition_mask(field_type, NEGATIONS[op], literal, values, as_of, lowered))
    empty = empty_mask(field_type, values)
    if op == "is_empty":
        return empty
    positive = _positive(field_type, op, literal, values, as_of, lowered)
    return pc.and_(pc.invert(empty), pc.fill_null(positive, False))


def _per_distinct_value(values: pa.DictionaryArray, decide: Callable[[pa.Array, Callable], Mask]) -> Mask:
    """A leaf over a dictionary-encoded column: decided once per distinct value, then spread by index.

    A null index is a missing value: it gets the answer the same condition gives a null."""
    distinct = values.dictionary
    per_value = decide(distinct, lambda: _lower(distinct))
    missing = pa.nulls(1, distinct.type)
    when_missing = decide(missing, lambda: missing)[0].as_py()
    return pc.fill_null(per_value.take(values.indices), when_missing)


def empty_mask(field_type: FieldType, values: pa.Array) -> Mask:
    if field_type is FieldType.STRING:
        return pc.fill_null(pc.equal(values, ""), True)
    if field_type is FieldType.NUMBER:
        return pc.fill_null(pc.is_nan(values), True)
    if field_type is FieldType.LIST:
        return pc.fill_null(pc.equal(pc.list_value_length(values), 0), True)
    return pc.is_null(values)


def _positive(field_type, op, literal, values, as_of, lowered) -> pa.Array:
    if field_type is FieldType.STRING:
        if op == "matches":
            return pc.match_substring_regex(values, literal)
        folded = lowered()
        if op == "eq":
            return pc.equal(folded, fold(literal))
        if op == "in":
            return pc.is_in(folded, value_set=pa.array([fold(v) for v in literal], pa.string()))
        if op == "contains":
            return pc.match_substring(folded, fold(literal))
        if op == "starts_with":
            return pc.starts_with(folded, fold(literal))
        if op == "ends_with":
            return pc.ends_with(folded, fold(literal))
    elif field_type is FieldType.NUMBER:
        if op == "in":
            # Adding 0.0 turns -0.0 into 0.0: is_in hashes bits, but -0.0 == 0.0 as numbers.
            wanted = pa.array([float(v) + 0.0 for v in literal], pa.float64())
            return pc.is_in(pc.add(values, 0.0), value_set=wanted)
        if op == "between":
            return pc.and_(pc.greater_equal(values, float(literal[0])), pc.less_equal(values, float(literal[1])))
        compare = {"eq": pc.equal, "gt": pc.greater, "gte": pc.greater_equal, "lt": pc.less, "lte": pc.less_equal}
        return compare[op](values, float(literal))
    elif field_type is FieldType.BOOLEAN:
        return values if op == "is_true" else pc.invert(values)
    elif field_type is FieldType.LIST:
        return _list_has(values, literal, every=op == "has_all")
    else:
        return _instant(field_type, op, literal, values, as_of)
    raise ValueError(f"operator {op!r} on {field_type}")


def _list_has(values: pa.Array, literal: list[str], *, every: bool) -> Mask:
    """has_any / has_all: a row matches when its list holds any / every wanted item (case-folded).

    Works on the child values between the batch's first and last offset, counting hits per row with
    a running sum read at the offsets (no hashing of row numbers). A null list may still own child
    values (Arrow allows it, and Parquet readers produce it): its row gets some answer here, which
    the caller's empty mask overrides."""
    offsets = values.offsets
    first = offsets[0].as_py()
    flat = _lower(values.values.slice(first, offsets[-1].as_py() - first))
    relative = pc.subtract(offsets, first) if first else offsets
    starts, ends = relative.slice(0, len(values)), relative.slice(1, len(values))
    wanted = list(dict.fromkeys(fold(v) for v in literal))
    result: Mask | None = None
    for group in ([w] for w in wanted) if every else [wanted]:
        hits = pc.cast(pc.fill_null(pc.is_in(flat, value_set=pa.array(group, pa.string())), False), pa.int64())
        running = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(hits)])
        has = pc.greater(pc.subtract(running.take(ends), running.take(starts)), 0)
        result = has if result is None else pc.and_(result, has)
    return result


def _instant(field_type: FieldType, op: str, literal: Any, values: pa.Array, as_of: datetime) -> pa.Array:
    is_date = field_type is FieldType.DATE
    if op in ("within_last_days", "more_than_days_ago", "within_next_days"):
        delta = timedelta(days=literal)
        now: date | datetime = as_of.date() if is_date else as_of
        kind = pa.date32() if is_date else _TS
        low, high = pa.scalar(now - delta, kind), pa.scalar(now, kind)
        if op == "within_last_days":
            return pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))
        if op == "more_than_days_ago":
            return pc.less(values, low)
        return pc.and_(pc.greater_equal(values, high), pc.less_equal(values, pa.scalar(now + delta, kind)))
    if op == "on":
        return pc.equal(_days(values), _day_scalar(parse_instant(literal)))
    if op == "before":
        return _compare(values, parse_instant(literal), pc.less)
    if op == "after":
        return _compare(values, parse_instant(literal), pc.greater)
    return pc.and_(
        _compare(values, parse_instant(literal[0]), pc.greater_equal),
        _compare(values, parse_instant(literal[1]), pc.less_equal),
    )


def _compare(values: pa.Array, bound: date | datetime, kernel) -> pa.Array:
    """As instants when both carry a time of day, otherwise as UTC calendar dates."""
    if isinstance(bound, datetime) and pa.types.is_timestamp(values.type):
        return kernel(values, pa.scalar(bound.astimezone(UTC), _TS))
    return kernel(_days(values), _day_scalar(bound))


def _days(values: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(values.type):
        return pc.cast(values, pa.date32())
    return values


def _day_scalar(bound: date | datetime) -> pa.Scalar:
    day = bound.astimezone(UTC).date() if isinstance(bound, datetime) else bound
    return pa.scalar(day, pa.date32())


# ---------------------------------------------------------------------------------------------------
# Event properties


def parse_numbers(texts: pa.Array) -> pa.Array:
    """Property strings that look like numbers, as float64; everything else null."""
    texts = _flat(texts)
    looks = pc.fill_null(pc.match_substring_regex(texts, NUMBER_PATTERN), False)
    numbers = pc.cast(pc.if_else(looks, texts, pa.scalar(None, pa.string())), pa.float64())
    return pc.if_else(pc.fill_null(pc.is_finite(numbers), False), numbers, pa.scalar(None, pa.float64()))


def property_mask(cond: PropertyCondition, texts: pa.Array) -> Mask:
    texts = _flat(texts)
    if numeric_property_condition(cond):
        return condition_mask(FieldType.NUMBER, cond.op, cond.value, parse_numbers(texts), _NO_CLOCK,
                              lambda: texts)
    return condition_mask(FieldType.STRING, cond.op, cond.value, texts, _NO_CLOCK, lambda: _lower(texts))


_NO_CLOCK = datetime(1970, 1, 1, tzinfo=UTC)


def _lower(values: pa.Array) -> pa.Array:
    return pc.utf8_lower(values)


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def _sorted_unique(ids: pa.Array | pa.ChunkedArray | Sequence[str] | None) -> pa.Array:
    if ids is None:
        return pa.array([], pa.string())
    if not isinstance(ids, pa.Array | pa.ChunkedArray):
        ids = pa.array(ids, pa.string())
    distinct = pc.unique(_flat(ids).cast(pa.string()))
    distinct = distinct.filter(pc.is_valid(distinct))
    return distinct.take(pc.sort_indices(distinct))


def _positions(index: pa.Array, ids: pa.Array) -> pa.Array:
    """Each id's position in the sorted distinct `index` (null when absent).

    Only the index's slice between the batch's smallest and largest id is hashed, so batches of a
    snapshot ordered by contact id cost time in proportion to the batch, not to the whole tenant."""
    start, stop = 0, len(index)
    if len(ids) and len(index):
        bounds = pc.min_max(ids)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low is None:
            return pa.nulls(len(ids), pa.int32())
        start = _search(index, low, right=False)
        stop = _search(index, high, right=True)
    local = pc.index_in(ids, value_set=index.slice(start, stop - start))
    return pc.add(local, pa.scalar(start, local.type)) if start else local


def _search(ordered: pa.Array, value: str, *, right: bool) -> int:
    """Binary search in a sorted string array (bytewise order, as Arrow sorts and compares strings)."""
    wanted = value.encode()
    low, high = 0, len(ordered)
    while low < high:
        mid = (low + high) // 2
        probe = ordered[mid].as_py().encode()
        if probe < wanted or (right and probe == wanted):
            low = mid + 1
        else:
            high = mid
    return low


def _constant(value: bool, size: int) -> Mask:
    return pc.fill_null(pa.nulls(size, pa.bool_()), value)
