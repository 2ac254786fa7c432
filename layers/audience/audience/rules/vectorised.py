"""The vectorised evaluator: every segment of a tenant in one pass over Arrow record batches.

Rules compile once into closures over `pyarrow.compute` kernels. Every leaf yields a boolean array
with no nulls (empty values already decided by SPEC's two-valued rule), so AND/OR/NOT over them are
exact, matching the per-record evaluator bit for bit. Activity conditions are aggregated per contact
once per run (grouped by each event's row in a sorted index of the contacts with events) and looked
up per batch by contact id. `SegmentEvaluator.stream` evaluates batches on a few threads (pyarrow
kernels release the GIL), results in the batches' order.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audience.columnar import arrow_type
from audience.fields import FieldCatalog, FieldType
from audience.keysets import KeySet
from audience.rules.activity_slices import SLICE_ROWS, UnsortedStream, sorted_slices
from audience.rules.model import (
    Aggregate,
    AllOf,
    AnyOf,
    EventCondition,
    FieldCondition,
    Not,
    PropertyCondition,
    Rule,
    Sample,
    SampleRange,
    SegmentRef,
    parse_instant,
    rule_to_json,
)
from audience.rules.operators import NEGATIONS, NUMBER_PATTERN
from audience.rules.record import as_utc, numeric_property_condition
from audience.rules.refs import dependency_order
from audience.rules.sample import bucket_codes
from audience.rules.text import fold

Mask = pa.BooleanArray
T = TypeVar("T")
_TS = pa.timestamp("us", tz="UTC")
MAX_THREADS = 4  # more threads than this buy little for one pass and cost memory (batches in flight)
READ_AHEAD = 3  # batches per evaluation thread read while the run-wide preparation runs (`stream`)
# Text leaves that read every value's bytes (a regex, a substring, an affix): worth deciding on the rows
# a group still needs only (see `SegmentEvaluator._restricted`), when they are at most this share
COSTLY_TEXT_OPS = frozenset({"matches", "contains", "starts_with", "ends_with"})
RESTRICT_SHARE = 0.5
CONTACT_KEY = "contact_key"  # a batch's contact keys, when it was read with them (``snapshots.KEY``)


def evaluation_threads() -> int:
    """Threads a pass evaluates batches on: ``EVALUATION_THREADS`` when set (1: the calling thread
    only, no pool), else the CPUs this process may run on, at most `MAX_THREADS`."""
    configured = os.environ.get("EVALUATION_THREADS", "").strip()
    if configured:
        return max(1, int(configured))
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not every platform has it
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_THREADS))


@dataclass
class _Batch:
    """One record batch plus per-batch caches shared by all segments' leaves."""

    batch: pa.RecordBatch
    masks: dict[str, Mask] = field(default_factory=dict)
    leaves: dict[str, Mask] = field(default_factory=dict)
    lowered: dict[str, Any] = field(default_factory=dict)
    blanks: dict[str, _Blank] = field(default_factory=dict)
    codes: dict[str, pa.Array] = field(default_factory=dict)
    valid: dict[str, np.ndarray] = field(default_factory=dict)  # a dictionary column's indices' validity
    columns: dict[tuple[str, FieldType], pa.Array] = field(default_factory=dict)  # `column`, once per leaf kind
    values: dict[str, list] = field(default_factory=dict)  # a dictionary column's values as Python strings
    # per list column: the folded items every list leaf of the run on it asks for (see `_ListItems`)
    list_wanted: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # each contact's row in the run's activity index; contacts without events get the index's length
    activity_rows: pa.Array | None = None

    @property
    def size(self) -> int:
        return self.batch.num_rows

    def column(self, name: str, field_type: FieldType) -> pa.Array:
        """The column as the leaves of ``field_type`` read it, found (and cast) once per batch: a batch's
        50 segments ask for some 15 columns about 55 times."""
        found = self.columns.get((name, field_type))
        if found is None:
            found = self.columns[(name, field_type)] = self._column(name, field_type)
        return found

    def _column(self, name: str, field_type: FieldType) -> pa.Array:
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

    def contact_keys(self) -> np.ndarray | None:
        """The batch's contact keys (``CONTACT_KEY`` column) as integers; None without them."""
        index = self.batch.schema.get_field_index(CONTACT_KEY)
        if index < 0 or self.batch.column(index).null_count:
            return None
        return self.batch.column(index).to_numpy()

    def lowered_column(self, name: str, values: pa.Array) -> Any:
        """A column case-folded once per batch for every leaf on it (a list column: its items, see `_list_items`)."""
        found = self.lowered.get(name)
        if found is None:
            found = self.lowered[name] = (_list_items(values, self.list_wanted.get(name)) if _is_list(values.type)
                                          else _lower(values))
        return found

    def blank(self, name: str, field_type: FieldType, values: pa.Array) -> _Blank:
        """The column's empty / non-empty masks, once per batch for every leaf on it."""
        found = self.blanks.get(name)
        if found is None:
            found = self.blanks[name] = _Blank(field_type, values)
        return found

    def dictionary_values(self, name: str, values: pa.DictionaryArray) -> list:
        """A dictionary column's distinct values as Python objects, once per batch for every leaf on it."""
        found = self.values.get(name)
        if found is None:
            found = self.values[name] = values.dictionary.to_pylist()
        return found

    def index_validity(self, name: str, indices: pa.Array) -> np.ndarray:
        """A dictionary column's indices' validity bits unpacked (numpy booleans), once per batch for
        every leaf on it (see `_spread_missing`)."""
        found = self.valid.get(name)
        if found is None:
            found = self.valid[name] = _unpacked(indices.buffers()[0], indices)
        return found

    def dictionary_codes(self, name: str, values: pa.DictionaryArray) -> pa.Array:
        """A dictionary column's indices with a missing value as the dictionary's length (see `_per_distinct_value`)."""
        found = self.codes.get(name)
        if found is None:
            indices = values.indices
            if indices.null_count:
                indices = pc.fill_null(indices, pa.scalar(len(values.dictionary), indices.type))
            found = self.codes[name] = indices
        return found


class _Blank:
    """A column's empty mask (SPEC §2) and its negation, each computed on first use."""

    __slots__ = ("_empty", "_present", "field_type", "values")

    def __init__(self, field_type: FieldType, values: pa.Array):
        self.field_type, self.values = field_type, values
        self._empty: Mask | None = None
        self._present: Mask | None = None

    @property
    def empty(self) -> Mask:
        if self._empty is None:
            self._empty = empty_mask(self.field_type, self.values)
        return self._empty

    @property
    def present(self) -> Mask:
        if self._present is None:
            self._present = pc.invert(self.empty)
        return self._present


class SegmentEvaluator:
    """Compiled rules of many segments; `masks(batch)` evaluates them all on one batch."""

    def __init__(
        self,
        segments: Sequence[tuple[str, Rule]],
        *,
        as_of: datetime,
        catalog: FieldCatalog,
        events: pa.Table | EventSource | None = None,
        memberships: Mapping[str, pa.Array] | None = None,
        member_keys: Mapping[str, KeySet] | None = None,
    ):
        self.as_of = as_utc(as_of)
        self.catalog = catalog
        self.events = events
        # Other segments' members, sorted and distinct (in prepare), looked up per batch like activity.
        self.memberships = dict(memberships or {})
        # ... or, for batches with contact keys, their keys (same key space: the caller's promise)
        self.member_keys = dict(member_keys or {})
        self._sorted_members: dict[str, pa.Array] = {}
        rules = dict(segments)
        self.order = dependency_order(rules)
        self._conditions: dict[str, EventCondition] = {}  # every activity condition, by its JSON key
        self._outside: set[str] = set()  # referenced segments not evaluated in this run
        self._activity_keys: pa.Array | None = None
        # per activity condition: its answer per index row, + 1 row for contacts without events (uint8, see `spread`)
        self._decided: dict[str, Spreadable] = {}
        # per list column: every folded item its has_any / has_all / has_none leaves ask for, numbered
        self._list_wanted: dict[str, dict[str, int]] = {}
        self._prepared = False
        self._lock = threading.Lock()
        self._uses: Counter[str] = Counter()  # per leaf (its JSON key): the nodes of the run asking for it
        self._compiled = {sid: self._compile(rules[sid]) for sid in self.order}

    @property
    def segment_ids(self) -> list[str]:
        return list(self.order)

    def masks(self, batch: pa.RecordBatch) -> dict[str, Mask]:
        """Every segment's mask over one batch. Reads the run-wide state only (after `prepare`), so
        batches may be evaluated on several threads at once."""
        self.prepare()
        state = _Batch(batch, list_wanted=self._list_wanted)
        for sid in self.order:
            state.masks[sid] = self._compiled[sid](state)
        return state.masks

    # -- compilation ---------------------------------------------------------------------------

    def _compile(self, rule: Rule) -> Callable[..., Mask]:
        """A node as ``node(state, care=None)``: its mask over the batch, exact wherever ``care`` is
        true (everywhere when it is None); elsewhere its value does not matter to the caller. A group
        narrows ``care`` for a child that can use it (a costly leaf only one node of the run asks for,
        `_restricted`, or a group or negation holding one: ``wants_care``) to the rows still undecided
        (an ``all``'s where every earlier child holds, an ``any``'s where none does), and stops once no
        row is; other children are evaluated whole, as before, without the narrowing's kernels."""
        if isinstance(rule, AllOf | AnyOf):
            children = [self._compile(c) for c in (rule.all if isinstance(rule, AllOf) else rule.any)]
            careful = [_wants_care(c) for c in children]
            is_all = isinstance(rule, AllOf)
            combine = pc.and_ if is_all else pc.or_

            def group(state: _Batch, care: Mask | None = None) -> Mask:
                result = children[0](state, care)
                for child, narrow in zip(children[1:], careful[1:], strict=True):
                    if not narrow:
                        result = combine(result, child(state))
                        continue
                    undecided = result if is_all else pc.invert(result)
                    if care is not None:
                        undecided = pc.and_(care, undecided)
                    if not undecided.true_count:  # every row that matters is decided already
                        return result
                    result = combine(result, child(state, undecided))
                return result

            group.wants_care = any(careful)
            return group
        if isinstance(rule, Not):
            inner = self._compile(rule.not_)

            def negated(state: _Batch, care: Mask | None = None) -> Mask:
                return pc.invert(inner(state, care))

            negated.wants_care = _wants_care(inner)
            return negated
        if isinstance(rule, SegmentRef):
            reference = self._compile_reference(rule.segment)
            return lambda state, care=None: reference(state)
        if isinstance(rule, Sample):
            sample = _compile_sample(rule.sample)
            return lambda state, care=None: sample(state)
        key = json.dumps(rule_to_json(rule), sort_keys=True)
        self._uses[key] += 1
        restricted = None
        if isinstance(rule, FieldCondition):
            field_type = self.catalog.type_of(rule.field)
            leaf = self._compile_field(rule, field_type)
            if field_type is FieldType.STRING and NEGATIONS.get(rule.op, rule.op) in COSTLY_TEXT_OPS:
                restricted = self._restricted(rule, field_type, key)
        else:
            leaf = self._compile_activity(rule, key)

        def cached(state: _Batch, care: Mask | None = None) -> Mask:
            found = state.leaves.get(key)
            if found is None:
                if care is not None and restricted is not None:
                    narrowed = restricted(state, care)
                    if narrowed is not None:
                        return narrowed
                found = state.leaves[key] = leaf(state)
            return found

        cached.wants_care = restricted is not None
        return cached

    def _restricted(self, cond: FieldCondition, field_type: FieldType,
                    key: str) -> Callable[[_Batch, Mask], Mask | None]:
        """A costly text leaf (a regex, a substring or an affix over a plain string column: a scan of
        every value's bytes) decided only on the rows its node still needs (``care``), false elsewhere;
        None — decide it whole — when another node of the run asks for it too (the whole mask is then
        shared), when the column is dictionary-encoded (decided per distinct value anyway) or when
        more than `RESTRICT_SHARE` of the rows are needed."""

        def narrowed(state: _Batch, care: Mask) -> Mask | None:
            if self._uses[key] > 1:
                return None
            values = state.column(cond.field, field_type)
            if pa.types.is_dictionary(values.type) or care.true_count > RESTRICT_SHARE * len(care):
                return None
            chosen = values.filter(care)
            found = condition_mask(field_type, cond.op, cond.value, chosen, self.as_of, lambda: _lower(chosen))
            # scattered back by numpy (a quarter of ``replace_with_mask``'s time on a 65k batch)
            whole = np.zeros(len(care), np.bool_)
            whole[np.flatnonzero(care.to_numpy(zero_copy_only=False))] = found.to_numpy(zero_copy_only=False)
            return pa.array(whole, pa.bool_())

        return narrowed

    def _compile_reference(self, segment_id: str) -> Callable[[_Batch], Mask]:
        if segment_id not in self.order:
            self._outside.add(segment_id)

        def reference(state: _Batch) -> Mask:
            if segment_id in state.masks:
                return state.masks[segment_id]
            keys = self.member_keys.get(segment_id)
            if keys is not None:
                batch_keys = state.contact_keys()
                if batch_keys is not None:
                    return pa.array(keys.contains(batch_keys), pa.bool_())
            members = self._members(segment_id)
            if len(members) == 0:
                return _constant(False, state.size)
            return pc.is_valid(_positions(members, state.contact_ids()))

        return reference

    def _members(self, segment_id: str) -> pa.Array:
        """Sorted distinct member ids of a segment outside this run (none when unknown); sorted in
        `prepare`, or at the first batch without keys for a segment known by its keys."""
        found = self._sorted_members.get(segment_id)
        if found is None:
            with self._lock:
                found = self._sorted_members.get(segment_id)
                if found is None:
                    found = self._sorted_members[segment_id] = _sorted_unique(self.memberships.get(segment_id))
        return found

    def _compile_field(self, cond: FieldCondition, field_type: FieldType) -> Callable[[_Batch], Mask]:
        if field_type is FieldType.LIST and cond.op in ("has_any", "has_all", "has_none"):
            wanted = self._list_wanted.setdefault(cond.field, {})
            for item in cond.value:
                wanted.setdefault(fold(item), len(wanted))

        def decide(distinct: pa.Array, lowered: Callable[[], pa.Array]) -> Mask:
            return condition_mask(field_type, cond.op, cond.value, distinct, self.as_of, lowered)

        when_missing: list[bool] = []  # the answer for a missing value: the same for every batch
        known = _KnownValues(decide)  # string values decided in earlier batches

        def leaf(state: _Batch) -> Mask:
            values = state.column(cond.field, field_type)
            if pa.types.is_dictionary(values.type):
                if not when_missing:
                    when_missing.append(_missing_answer(decide, values.dictionary.type))
                decided = (known.answers(values, when_missing[0],
                                         state.dictionary_values(cond.field, values))
                           if len(values.dictionary) <= known.MAX_DICTIONARY else None)
                if decided is None:
                    decided = _distinct_answers(values, decide, when_missing[0])
                indices = values.indices
                if indices.null_count and pa.types.is_integer(indices.type):
                    return _spread_missing(decided, indices, state.index_validity(cond.field, indices))
                return spread(decided, state.dictionary_codes(cond.field, values))
            return condition_mask(field_type, cond.op, cond.value, values, self.as_of,
                                  lambda: state.lowered_column(cond.field, values),
                                  state.blank(cond.field, field_type, values))

        return leaf

    def _compile_activity(self, cond: EventCondition, key: str) -> Callable[[_Batch], Mask]:
        self._conditions[key] = cond
        # The answer depends on the contact's aggregate only, decided once per run for every index row.
        return lambda state: spread(self._decided[key], self._activity_rows(state))

    def _activity_rows(self, state: _Batch) -> pa.Array:
        """Each batch contact's row in the activity index, looked up once per batch for every activity leaf.

        Only the index's slice between the batch's smallest and largest id is hashed, so batches of a
        snapshot ordered by contact id cost time in proportion to the batch, not to the whole tenant."""
        if state.activity_rows is None:
            state.activity_rows = _positions(self._activity_keys, state.contact_ids(),
                                             missing=len(self._activity_keys))
        return state.activity_rows

    # -- run-wide work, once -------------------------------------------------------------------

    def stream(self, batches: Iterable[pa.RecordBatch], work: Callable[[pa.RecordBatch], T] | None = None, *,
               threads: int | None = None) -> Iterator[T]:
        """``work(batch)`` (default: the batch and its masks) for every batch, results in the batches' order.

        With ``threads`` > 1 (default: `evaluation_threads()`) batches are evaluated on a pool of that
        many threads (pyarrow kernels release the GIL, so they run at once on several cores) while the
        caller's iterator keeps reading: at most ``threads + 1`` batches are submitted and not yet
        returned, so memory stays bounded. One thread evaluates each batch on the calling thread,
        as `masks` does. The run-wide work (`prepare`) is done when the first batch arrives; with
        several threads it runs beside the caller, who meanwhile reads up to ``READ_AHEAD`` batches
        per thread ahead (Parquet decoding on the cores the preparation leaves idle: its slices
        wait on the event log's reads), so the pass starts with its first batches decoded."""
        threads = evaluation_threads() if threads is None else max(1, threads)
        run = work or (lambda batch: (batch, self.masks(batch)))
        iterator = iter(batches)
        first = next(iterator, None)
        if first is None:
            return
        ahead = deque([first])
        del first  # each batch is let go once its work is done (``_drained``), the first one too
        if threads == 1:
            self.prepare()
            for batch in chain(_drained(ahead), iterator):
                yield run(batch)
            return
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="evaluation")
        try:
            if not self._prepared:
                with ThreadPoolExecutor(max_workers=1, thread_name_prefix="evaluation-prepare") as helper:
                    preparing = helper.submit(self._prepare_on, pool, threads)
                    while not preparing.done() and len(ahead) < READ_AHEAD * threads:
                        batch = next(iterator, None)
                        if batch is None:
                            break
                        ahead.append(batch)
                    preparing.result()
            pending: deque[Future] = deque()
            for batch in chain(_drained(ahead), iterator):  # the batches read ahead are let go as they go
                pending.append(pool.submit(run, batch))
                if len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def prepare(self, threads: int = 1) -> None:
        """The run-wide work, once: the activity index (sorted distinct ids of contacts with events),
        every activity condition's per-contact aggregate laid out on it, and the sorted members of
        referenced segments outside the run. With ``threads`` > 1 the independent pieces run on a
        small pool. Called by the first `masks`; idempotent and thread-safe."""
        if self._prepared:
            return
        if threads <= 1:
            self._prepare_on(_Inline(), 1)
            return
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="evaluation") as pool:
            self._prepare_on(pool, threads)

    def _prepare_on(self, pool, threads: int) -> None:
        with self._lock:
            if not self._prepared:
                self._prepare(pool, threads)
                self._prepared = True

    def _prepare(self, pool, threads: int) -> None:
        # Jobs only wait for jobs submitted before them, so a FIFO pool of any size cannot deadlock.
        members = {sid: pool.submit(_sorted_unique, self.memberships.get(sid)) for sid in sorted(self._outside)
                   if sid not in self.member_keys}
        source = as_event_source(self.events)
        if not self._conditions or source is None:
            self._activity_keys = pa.array([], pa.string())
            answers = {key: _default_answer(cond, self.as_of) for key, cond in self._conditions.items()}
        else:
            activity = _Activity(self._conditions, self.as_of, pool, threads)
            self._activity_keys, answers = source.fold(activity.wanted(), activity.run)
        for key in self._conditions:  # the index's rows, then the row of contacts without events
            self._decided[key] = _spreadable_bytes(answers.pop(key))
        for sid, job in members.items():
            self._sorted_members[sid] = job.result()


def _drained(items: deque) -> Iterator:
    """Each item of ``items`` once, removed as it is handed out (no reference kept behind)."""
    while items:
        yield items.popleft()


# ---------------------------------------------------------------------------------------------------
# Activity: per-contact aggregates of event conditions, folded over a stream of event batches


@dataclass(frozen=True)
class EventsWanted:
    """What the run's activity conditions read of the log: the event names, whether any reads
    properties, the earliest instant a window reaches (None: unbounded) and ``as_of`` (no later
    event counts) — a source pushes these down into its reads."""

    names: frozenset[str]
    properties: bool
    since: datetime | None
    until: datetime

    @property
    def columns(self) -> tuple[str, ...]:
        return ("contact_id", "event", "occurred_at", *(("properties",) if self.properties else ()))


class EventSource:
    """Where a run's events come from: ``fold(wanted, consume)`` hands ``consume`` a list of streams of
    record batches (the ``wanted`` columns, at least the wanted rows), each stream sorted by
    ``contact_id``, and returns its result. A source may call ``consume`` again from the start (the
    log changed under a read): it must not keep state between calls."""

    def fold(self, wanted: EventsWanted, consume: Callable[[list[Iterable[pa.RecordBatch]]], T]) -> T:
        raise TypeError(f"{type(self).__name__} does not implement fold")


class TableEvents(EventSource):
    """Events already in memory (tests, the per-contact paths): one stream, sorted by contact here."""

    def __init__(self, table: pa.Table):
        self.table = table

    def fold(self, wanted: EventsWanted, consume: Callable[[list[Iterable[pa.RecordBatch]]], T]) -> T:
        table = self.table.select(list(wanted.columns)) if set(wanted.columns) <= set(self.table.column_names) \
            else self.table
        ids = table.column("contact_id")
        if pa.types.is_dictionary(ids.type):
            table = table.set_column(table.schema.get_field_index("contact_id"), "contact_id", ids.cast(pa.string()))
        table = table.sort_by([("contact_id", "ascending")])
        return consume([table.to_batches(max_chunksize=SLICE_ROWS)])


def as_event_source(events: pa.Table | EventSource | None) -> EventSource | None:
    """Any object with `EventSource.fold` is a source (the event log's ``LogEvents``); a table is wrapped."""
    if events is None or not isinstance(events, pa.Table):
        return events
    return TableEvents(events) if events.num_rows else None


class _Activity:
    """Every activity condition's per-contact aggregate, over the run's sorted event streams.

    The streams are cut into slices of disjoint contact ranges (`activity_slices.sorted_slices`), so
    each slice is aggregated completely on its own (`_SliceAggregates`) and the slices' answers are
    concatenated: nothing is merged across slices. Slices are aggregated on the pool, a few ahead of
    the reading (Arrow's decoding and numpy's kernels release the GIL). Memory holds a few slices and
    the run's answer (one value per contact with events and condition) — never the whole history."""

    def __init__(self, conditions: Mapping[str, EventCondition], as_of: datetime, pool, threads: int):
        self.conditions = dict(conditions)
        self.as_of = as_of
        self.pool = pool
        self.threads = max(1, threads)

    def wanted(self) -> EventsWanted:
        conds = list(self.conditions.values())
        windows = [c.within_last_days for c in conds]
        since = None if any(w is None for w in windows) else self.as_of - timedelta(days=max(windows))
        return EventsWanted(
            names=frozenset(c.event for c in conds),
            properties=any(c.where or c.aggregate.fn not in ("count", "first_at", "last_at") for c in conds),
            since=since,
            until=self.as_of,
        )

    def run(self, streams: list[Iterable[pa.RecordBatch]]) -> tuple[pa.Array, dict[str, np.ndarray]]:
        """(sorted distinct ids of contacts with selected events, each condition's answer on them: one
        uint8 per contact, decided on the slice's worker, so no aggregate outlives its slice — and
        one more, after them, for contacts without events: `_default_answer`, joined in the same copy)."""
        plan = _SlicePlan(self.conditions, self.as_of)
        keys: list[pa.Array] = []
        answers: dict[str, list[np.ndarray]] = {key: [] for key in self.conditions}
        in_flight: deque[Future] = deque()

        def absorb(found: tuple[pa.Array, dict[str, np.ndarray]]) -> None:
            ids, values = found
            keys.append(ids)
            for key, array in values.items():
                answers[key].append(array)

        for pieces in sorted_slices(streams, SLICE_ROWS):
            in_flight.append(self.pool.submit(_aggregate, plan, pieces))
            if len(in_flight) > self.threads:
                absorb(in_flight.popleft().result())
        while in_flight:
            absorb(in_flight.popleft().result())
        defaults = {key: _default_answer(cond, self.as_of) for key, cond in self.conditions.items()}
        if not keys:
            return pa.array([], pa.string()), defaults
        return pa.concat_arrays(keys), {key: np.concatenate([*answers.pop(key), defaults[key]])
                                        for key in self.conditions}


def _aggregate(plan: _SlicePlan, pieces: list[pa.RecordBatch]) -> tuple[pa.Array, dict[str, np.ndarray]]:
    """A slice's contacts and each condition's answer for them (no aggregate outlives its condition)."""
    return _SliceAggregates(plan, pieces).answers()


def _answers(cond: EventCondition, aggregates: pa.Array, as_of: datetime) -> np.ndarray:
    """The condition's answer (uint8: 1 true, 0 false) for each contact's aggregate."""
    agg = cond.aggregate
    result_type = FieldType.DATETIME if agg.fn in ("first_at", "last_at") else FieldType.NUMBER
    found = condition_mask(result_type, agg.op, agg.value, aggregates, as_of, lambda: _lower(aggregates))
    return _numpy_mask(found).view(np.uint8)


def _default_answer(cond: EventCondition, as_of: datetime) -> np.ndarray:
    """The condition's answer (one uint8) for contacts without events: the activity index's extra row."""
    return _answers(cond, _with_default_row(pa.array([], _value_type(cond)), cond), as_of)


# Numeric aggregates' operators answered in numpy (`_numeric_answers`); the others (``in``/``not_in``)
# go through `condition_mask` on an Arrow array of the aggregate.
_NUMPY_COMPARE = {"eq": np.equal, "gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}
_NUMPY_OPS = frozenset({*_NUMPY_COMPARE, "neq", "between", "is_empty", "is_not_empty"})
_NUMERIC_FUNCTIONS = frozenset({"count", "sum", "min", "max", "avg"})


def _numeric_answers(op: str, literal: Any, values: np.ndarray, present: np.ndarray | None) -> np.ndarray:
    """`_answers` of a numeric aggregate held as numpy (``values``; ``present``: where a contact has
    one, None: everywhere) for an operator of ``_NUMPY_OPS``, as uint8, without building the Arrow
    array: the same IEEE comparisons against ``float(literal)``, and SPEC's empty values (a missing
    aggregate, NaN) answered as `condition_mask` answers them — false, and true once negated."""
    base = NEGATIONS.get(op, op)
    if base == "is_empty":
        found = np.isnan(values)
        if present is not None:
            found |= ~present
    else:
        if base == "between":
            found = np.greater_equal(values, float(literal[0]))
            found &= np.less_equal(values, float(literal[1]))
        else:
            found = _NUMPY_COMPARE[base](values, float(literal))  # NaN compares false, as in Arrow
        if present is not None:
            found &= present
    if base != op:
        np.logical_not(found, out=found)
    return found.view(np.uint8)


def _count_answers(op: str, literal: Any) -> tuple[bool, bool] | None:
    """For a count compared by a monotone operator whose answer is the same for every count from 1
    on: (the answer for 0 events, for 1 or more) — the answer is then whether a contact has any
    selected event, set without counting them. None otherwise."""
    compare = {"gte": float.__ge__, "gt": float.__gt__, "lt": float.__lt__, "lte": float.__le__}.get(op)
    if compare is None:
        return None
    bound = float(literal)
    zero, one = compare(0.0, bound), compare(1.0, bound)
    rising = op in ("gte", "gt")  # true at 1 stays true above 1 (false at 1 stays false, falling)
    return (zero, one) if one == rising else None


class _SlicePlan:
    """The run's conditions grouped by event name, with their windows as integer microseconds."""

    def __init__(self, conditions: Mapping[str, EventCondition], as_of: datetime):
        self.conditions = dict(conditions)
        self.as_of = as_of
        self.names = sorted({c.event for c in conditions.values()})
        self.name_set = pa.array(self.names, pa.string())
        # the narrowest integer holding every name's code and -1 (each name's events are found by comparing them)
        self.narrow = next(kind for kind in (np.int8, np.int16, np.int32) if len(self.names) < np.iinfo(kind).max)
        self.by_name: dict[int, list[str]] = {}
        for key, cond in self.conditions.items():
            self.by_name.setdefault(self.names.index(cond.event), []).append(key)
        self.as_of_us = _micros(as_of)
        self.starts = {key: None if cond.within_last_days is None
                       else _micros(as_of - timedelta(days=cond.within_last_days))
                       for key, cond in self.conditions.items()}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(instant: datetime) -> int:
    """An instant as integer microseconds since the epoch (exactly, as Arrow's us timestamps count)."""
    return (instant - _EPOCH) // timedelta(microseconds=1)


class _SliceAggregates:
    """One slice of events (pieces sorted by contact; its contacts in no other slice), aggregated.

    Each contact gets its position among the slice's sorted distinct ids once: a piece's runs of one
    contact are found by comparing neighbours, and every event takes its run's position (one
    stream's: a cumulative count of the new runs; several streams': their runs' ids hashed and
    sorted, each run's rank repeated over its events). Then per event name: its events' positions, times and (when a
    condition reads them) properties, once; per condition: a numpy mask for its window and ``where``,
    and one ``bincount`` / ``minimum.at`` / ``maximum.at`` into arrays over the slice's contacts."""

    def __init__(self, plan: _SlicePlan, pieces: list[pa.RecordBatch]):
        self.plan = plan
        self.pieces = pieces
        run_ids, flags, plain = [], [], True
        for piece in pieces:
            ids = piece.column(piece.schema.get_field_index("contact_id"))
            starting = _run_flags(ids)
            starts = np.flatnonzero(starting)
            if pa.types.is_dictionary(ids.type):  # runs of one code; the codes' ids only are taken
                run_ids.append(ids.dictionary.take(pa.array(ids.indices.to_numpy(zero_copy_only=False)[starts])))
                plain = False
            else:
                run_ids.append(ids.take(pa.array(starts)))
            flags.append(starting)
        every_run = pa.concat_arrays(run_ids).cast(pa.string())
        if len(every_run) and _ascending(every_run):
            # one stream's pieces in order (a contact cut between two batches gives two equal runs):
            # the distinct ids are the runs' ids without repeats, each event's rank counts the new
            # runs started up to it (a cumulative sum of the events' flags: no run lengths repeated)
            new = _new_runs(every_run, [len(found) for found in run_ids], plain)
            starting = np.concatenate(flags)
            if new.all():
                self.keys = every_run
            else:
                self.keys = every_run.filter(pa.array(new))
                starting[np.flatnonzero(starting)[~new]] = False
            self.size = len(self.keys)
            self.position = np.cumsum(starting, dtype=np.int64) - 1
        else:  # pieces of several streams interleave: rank the distinct ids by sorting them
            encoded = pc.dictionary_encode(every_run)
            order = pc.sort_indices(encoded.dictionary).to_numpy()
            rank = np.empty(len(order), np.int64)
            rank[order] = np.arange(len(order))
            self.keys = encoded.dictionary.take(pa.array(order))
            self.size = len(order)
            runs = rank[encoded.indices.to_numpy()]
            _check_ascending(runs, np.cumsum([len(ids) for ids in run_ids]))
            lengths = [np.diff(np.append(np.flatnonzero(starting), len(starting))) for starting in flags]
            self.position = np.repeat(runs, np.concatenate(lengths))
        self.occurred = np.concatenate([_micros_of(piece) for piece in pieces])
        codes = np.concatenate([_name_codes(piece, plan.name_set, plan.narrow) for piece in pieces])
        codes[self.occurred > plan.as_of_us] = -1  # no event after as_of counts
        self.codes = codes
        self.offsets = np.cumsum([0, *(piece.num_rows for piece in pieces)])
        self._properties: dict[int, _PieceProperties] = {}

    def properties(self, number: int) -> _PieceProperties:
        """Piece ``number``'s property maps, laid out once for every name and key that reads them."""
        found = self._properties.get(number)
        if found is None:
            piece = self.pieces[number]
            maps = piece.column(piece.schema.get_field_index("properties"))
            found = self._properties[number] = _PieceProperties(maps)
        return found

    def answers(self) -> tuple[pa.Array, dict[str, np.ndarray]]:
        """The slice's contacts and each condition's answer on them (`_Named.answer`)."""
        found: dict[str, np.ndarray] = {}
        # each name's events, in slice order: one comparison of the (int8) codes per name, a third of
        # a stable sort's time (a radix sort's passes and its bucket counts) for a run's few names
        for code, keys in self.plan.by_name.items():
            named = _Named(self, np.flatnonzero(self.codes == code))
            for key in keys:
                found[key] = named.answer(self.plan.conditions[key], self.plan.starts[key])
        return self.keys, found

class _Named:
    """The events of one name in a slice: their contacts' positions and times, and the properties its
    conditions read (looked up once per key, for these events only), shared by its conditions."""

    def __init__(self, slice_: _SliceAggregates, rows: np.ndarray):
        self.slice = slice_
        self.rows = rows
        self.position = slice_.position[rows]
        self.occurred = slice_.occurred[rows]
        self._properties: dict[str, tuple[np.ndarray, pa.Array]] = {}
        self._numbers: dict[str, np.ndarray] = {}

    def property(self, key: str) -> tuple[np.ndarray, pa.Array]:
        """Property ``key`` of these events: (each event's index into the values — the last one, a
        null, for an event without it —, the values as strings). A piece read with dictionary-encoded
        values contributes only its dictionary."""
        found = self._properties.get(key)
        if found is None:
            pieces, offsets = self.slice.pieces, self.slice.offsets
            bounds = np.searchsorted(self.rows, offsets)  # rows ascend within a name
            indices, values, base = [], [], 0
            for number in range(len(pieces)):
                if bounds[number] == bounds[number + 1]:
                    continue
                index, distinct = self.slice.properties(number).values(
                    key, self.rows[bounds[number]:bounds[number + 1]] - offsets[number])
                np.add(index, base, out=index, where=index >= 0)
                indices.append(index)
                values.append(distinct if distinct.type == pa.string() else distinct.cast(pa.string()))
                base += len(distinct)
            index = np.concatenate(indices) if indices else np.empty(0, np.int64)
            index[index < 0] = base
            found = self._properties[key] = (index, pa.concat_arrays([*values, pa.nulls(1, pa.string())]))
        return found

    def numbers(self, key: str) -> np.ndarray:
        """Property ``key`` of these events as numbers (NaN where missing or not a number)."""
        found = self._numbers.get(key)
        if found is None:
            index, values = self.property(key)
            found = self._numbers[key] = parse_numbers(values).to_numpy(zero_copy_only=False)[index]
        return found

    def answer(self, cond: EventCondition, start: int | None) -> np.ndarray:
        """The condition's answer per slice contact (uint8), as `_answers` gives it of `aggregate`: a
        numeric aggregate under an operator of ``_NUMPY_OPS`` is compared in numpy, and a count whose
        answer only asks whether there is any selected event just marks the contacts that have one."""
        agg = cond.aggregate
        if agg.fn not in _NUMERIC_FUNCTIONS or agg.op not in _NUMPY_OPS:
            return _answers(cond, self.aggregate(cond, start), self.slice.plan.as_of)
        keep = self._kept(cond, start)
        if agg.fn == "count" and (seen := _count_answers(agg.op, agg.value)) is not None:
            found = np.full(self.slice.size, seen[0], np.uint8)
            if seen[1] != seen[0]:
                found[self.position if keep is None else self.position[keep]] = seen[1]
            return found
        values, present = self._numeric(agg, keep)
        return _numeric_answers(agg.op, agg.value, values, present)

    def aggregate(self, cond: EventCondition, start: int | None) -> pa.Array:
        """The condition's aggregate per slice contact (`_value_type`; null where it has none)."""
        keep = self._kept(cond, start)
        fn = cond.aggregate.fn
        if fn in ("first_at", "last_at"):
            size = self.slice.size
            position = self.position if keep is None else self.position[keep]
            times = self.occurred if keep is None else self.occurred[keep]
            found = np.full(size, np.iinfo(np.int64).max if fn == "first_at" else np.iinfo(np.int64).min, np.int64)
            (np.minimum if fn == "first_at" else np.maximum).at(found, position, times)
            present = np.bincount(position, minlength=size) > 0
            return pa.array(found, pa.int64(), mask=~present).cast(_TS)
        values, present = self._numeric(cond.aggregate, keep)
        return pa.array(values, pa.float64(), mask=None if present is None else ~present)

    def _kept(self, cond: EventCondition, start: int | None) -> np.ndarray | None:
        """Which of these events the condition selects (its window and ``where``; None: all)."""
        keep = None if start is None else self.occurred >= start
        for where in cond.where:
            index, values = self.property(where.field)
            matched = _numpy_mask(property_mask(where, values))[index]  # decided once per distinct value
            keep = matched if keep is None else keep & matched
        return keep

    def _numeric(self, agg: Aggregate, keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """A numeric aggregate of the ``keep`` events per slice contact: (its values, where a contact
        has one — None: every contact, as count and sum have)."""
        fn = agg.fn
        size = self.slice.size
        position = self.position if keep is None else self.position[keep]
        if fn == "count":
            return np.bincount(position, minlength=size), None
        values = self.numbers(agg.field)
        values = values if keep is None else values[keep]
        valid = ~np.isnan(values)  # parsed numbers are finite: NaN is a missing or unparsable value
        position, values = position[valid], values[valid]
        if fn == "sum":
            return np.bincount(position, weights=values, minlength=size), None
        counted = np.bincount(position, minlength=size)
        if fn == "avg":
            total = np.bincount(position, weights=values, minlength=size)  # weighted: float64 already
            with np.errstate(invalid="ignore", divide="ignore"):
                return total / counted, counted != 0
        found = np.full(size, np.inf if fn == "min" else -np.inf)
        (np.minimum if fn == "min" else np.maximum).at(found, position, values)
        return found, counted != 0


def _new_runs(every_run: pa.Array, counts: list[int], plain: bool) -> np.ndarray:
    """Which runs of ascending ``every_run`` (the pieces' runs, ``counts`` per piece) start a contact:
    those whose id differs from the run before. Runs of plain ids differ within a piece by
    construction (`_run_flags` cuts where the id changes), so only a piece's first run is compared,
    with the last before it; runs of dictionary codes may repeat an id (a dictionary may hold it
    twice) and are all compared."""
    new = np.ones(len(every_run), np.bool_)
    if not plain:
        new[1:] = _numpy_mask(pc.not_equal(every_run.slice(1), every_run.slice(0, len(every_run) - 1)))
        return new
    first = 0
    for count in counts[:-1]:
        first += count
        if 0 < first < len(every_run) and every_run[first].as_py() == every_run[first - 1].as_py():
            new[first] = False
    return new


def _check_ascending(runs: np.ndarray, ends: np.ndarray) -> None:
    """Each piece's runs (their contacts' ranks, the pieces' runs ending at ``ends``) must not descend
    — the piece is sorted by contact; `sorted_slices` checks only its seams. (Runs of one dictionary
    code may repeat a contact: a dictionary may hold an id twice.)"""
    ascending = runs[1:] >= runs[:-1]
    ascending[ends[:-1] - 1] = True  # one piece's last run against the next piece's first: no order
    if not ascending.all():
        raise UnsortedStream("an event stream is not sorted by contact_id")


def _ascending(ids: pa.Array) -> bool:
    """Whether string ``ids`` (no nulls) never descend, bytewise as Arrow sorts them."""
    if len(ids) < 2:
        return True
    return bool(pc.all(pc.less_equal(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py())


def _run_flags(ids: pa.Array) -> np.ndarray:
    """Whether each of sorted ``ids`` starts a run of one contact (of one dictionary code, for
    dictionary-encoded ids): numpy bools, the first one true."""
    starting = np.ones(len(ids), np.bool_)
    if len(ids) < 2:
        return starting
    if pa.types.is_dictionary(ids.type):
        codes = ids.indices.to_numpy(zero_copy_only=False)
        np.not_equal(codes[1:], codes[:-1], out=starting[1:])
    else:
        starting[1:] = _bits(pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)))
    return starting


def _micros_of(piece: pa.RecordBatch) -> np.ndarray:
    times = piece.column(piece.schema.get_field_index("occurred_at"))
    if times.type != _TS:
        times = times.cast(_TS, safe=False)  # finer than microseconds (ns from other writers): truncated
    return times.cast(pa.int64()).to_numpy(zero_copy_only=False)


def _name_codes(piece: pa.RecordBatch, names: pa.Array, kind: type = np.int32) -> np.ndarray:
    """Each event's name as its position in ``names`` (as ``kind``), -1 for other names. A
    dictionary-encoded column (as the log is read) matches its few distinct names only."""
    events = piece.column(piece.schema.get_field_index("event"))
    if pa.types.is_dictionary(events.type):
        known = pc.fill_null(pc.index_in(events.dictionary.cast(pa.string()), value_set=names), -1).to_numpy()
        codes = events.indices.to_numpy(zero_copy_only=False) if not events.null_count else \
            pc.fill_null(events.indices, len(known)).to_numpy()
        return np.append(known, -1).astype(kind)[codes]
    return pc.fill_null(pc.index_in(events.cast(pa.string()), value_set=names), -1).to_numpy().astype(kind)


def _wants_care(node: Callable[..., Mask]) -> bool:
    """Whether a compiled node can use the rows its parent still needs (see `SegmentEvaluator._compile`)."""
    return getattr(node, "wants_care", False)


def _numpy_mask(mask: pa.Array) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def _bits(mask: pa.BooleanArray) -> np.ndarray:
    """`_numpy_mask` of a boolean array, its bits unpacked by numpy when it has no nulls (Arrow's own
    conversion takes ~15x as long: ~150 us per 131,072 values)."""
    if mask.null_count or not len(mask):
        return _numpy_mask(mask)
    return _unpacked(mask.buffers()[1], mask)


def _unpacked(bitmap: pa.Buffer, array: pa.Array) -> np.ndarray:
    """One of ``array``'s bitmaps (its validity, or a boolean array's values) as numpy booleans, one
    per value, from the array's offset on."""
    bits = np.frombuffer(bitmap, np.uint8)
    return np.unpackbits(bits, count=array.offset + len(array), bitorder="little")[array.offset:].view(np.bool_)


def _compile_sample(sample: SampleRange) -> Callable[[_Batch], Mask]:
    """A holdout bucket: the ids' hash once per batch and seed (shared by every node with that seed),
    divided by 100 as the per-record evaluator does, so the float comparison is the same one."""
    cache_key = "sample-buckets:" + sample.seed

    def leaf(state: _Batch) -> Mask:
        buckets = state.leaves.get(cache_key)
        if buckets is None:
            ids = state.contact_ids()
            if pa.types.is_dictionary(ids.type):
                ids = ids.dictionary_decode()
            codes = pa.array(bucket_codes(sample.seed, ids.to_pylist()), pa.float64())
            buckets = state.leaves[cache_key] = pc.divide(codes, 100.0)
        return pc.and_(pc.greater_equal(buckets, sample.from_), pc.less(buckets, sample.to))

    return leaf


def lookup_first(maps: pa.Array | pa.ChunkedArray, key: str) -> pa.Array:
    """``pc.map_lookup(maps, key, "first")``, several times faster on a long event log: one comparison
    over every entry's key, then each map's first matching entry scattered to its row. Entries owned
    by a null map (Arrow allows them) are ignored, as `map_lookup` ignores them."""
    maps = _flat(maps)
    size = len(maps)
    first, count, relative = _owned_children(maps)
    keys, items = maps.keys.slice(first, count), maps.items.slice(first, count)
    owners = pc.list_parent_indices(pa.ListArray.from_arrays(relative, pa.nulls(count)))
    hits = pc.indices_nonzero(pc.fill_null(pc.equal(keys, key), False))
    rows = owners.take(hits)
    if maps.null_count and len(rows):
        live = maps.is_valid().take(rows)
        hits, rows = hits.filter(live), rows.filter(live)
    if len(rows) > 1:  # rows ascend with the entries: keep each map's first hit
        first_hit = pa.concat_arrays([pa.array([True]), pc.not_equal(rows.slice(1), rows.slice(0, len(rows) - 1))])
        hits, rows = hits.filter(first_hit), rows.filter(first_hit)
    if not len(rows):
        return pa.nulls(size, items.type)
    return pc.scatter(items.take(hits), rows, max_index=size - 1)


def key_values(maps: pa.Array, key: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, pa.Array]:
    """`lookup_first(maps, key)` (of the maps at ascending ``rows``; None: all) as (each map's index into
    ``values``, -1 where it has none; ``values``): `_PieceProperties.values` of one lookup."""
    return _PieceProperties(maps).values(key, np.arange(len(maps)) if rows is None else rows)


class _PieceProperties:
    """A batch's property maps, laid out once for lookups by key (`values`) without copying the maps:
    keys read dictionary-encoded are matched as integer codes and values read so are handed over as
    their dictionary (a few distinct strings); plain ones are compared and taken entry by entry.
    Entries of a null map are not its values (Arrow allows them)."""

    def __init__(self, maps: pa.Array):
        first, count, relative = _owned_children(maps)
        self.keys, self.items = maps.keys.slice(first, count), maps.items.slice(first, count)
        self.offsets = relative.to_numpy()
        self.valid = maps.is_valid().to_numpy(zero_copy_only=False) if maps.null_count else None
        self.encoded_keys = pa.types.is_dictionary(self.keys.type)
        self.key_codes = self.keys.indices.to_numpy(zero_copy_only=False) if self.encoded_keys else None
        self.encoded_items = pa.types.is_dictionary(self.items.type)
        if self.encoded_items:
            codes = self.items.indices
            self.item_codes = (pc.fill_null(codes, -1) if codes.null_count else codes).to_numpy(zero_copy_only=False)
        self._key_names: list | None = None  # a dictionary of keys as Python strings, once per batch

    def _is_key(self, key: str) -> Callable[[np.ndarray], np.ndarray] | None:
        """Whether entries hold ``key`` (None: no entry can — a dictionary without it)."""
        if not self.encoded_keys:
            return lambda entries: _numpy_mask(pc.equal(self.keys.take(pa.array(entries)), key))
        if self._key_names is None:  # a few distinct keys: compared in Python, not by a kernel per key
            self._key_names = self.keys.dictionary.to_pylist()
        matching = [code for code, name in enumerate(self._key_names) if name == key]
        if not matching:
            return None
        if len(matching) == 1:
            return lambda entries: self.key_codes[entries] == matching[0]
        return lambda entries: np.isin(self.key_codes[entries], matching)

    def values(self, key: str, rows: np.ndarray) -> tuple[np.ndarray, pa.Array]:
        """`lookup_first` of the maps at ascending ``rows`` as (each one's index into ``values``, -1
        where it has none; ``values``). Maps are walked slot by slot (event properties are a few
        entries each), each map until its first match."""
        start = self.offsets[rows]
        length = self.offsets[rows + 1] - start
        if self.valid is not None:
            length = np.where(self.valid[rows], length, 0)
        is_key = self._is_key(key)
        entry = np.full(len(rows), -1, np.int64)
        live = np.flatnonzero(length > 0) if is_key is not None else entry[:0]
        slot = 0
        while len(live):  # slot by slot, only the maps still without a match and with more entries
            candidates = start[live] + slot
            found = is_key(candidates)
            entry[live[found]] = candidates[found]
            slot += 1
            live = live[~found & (length[live] > slot)]
        hit = entry >= 0
        if self.encoded_items and hit.all():  # every map holds the key (one gather, no scatter)
            return self.item_codes[entry].astype(np.int64), self.items.dictionary
        matched = np.flatnonzero(hit)
        index = np.full(len(rows), -1, np.int64)
        if self.encoded_items:
            index[matched] = self.item_codes[entry[matched]]
            return index, self.items.dictionary
        index[matched] = np.arange(len(matched))
        return index, self.items.take(pa.array(entry[matched]))


def _value_type(cond: EventCondition) -> pa.DataType:
    return _TS if cond.aggregate.fn in ("first_at", "last_at") else pa.float64()


def _with_default_row(aligned: pa.Array, cond: EventCondition) -> pa.Array:
    """An aggregate laid out on the activity index, plus one row for contacts without events: count
    and sum are 0 for them (and for contacts without selected events), other aggregates null."""
    if cond.aggregate.fn in ("count", "sum"):
        return pc.fill_null(pa.concat_arrays([aligned, pa.nulls(1, aligned.type)]), 0.0)
    return pa.concat_arrays([aligned, pa.nulls(1, aligned.type)])


class _Inline:
    """An executor running each job at once on the calling thread (one thread: no pool at all)."""

    def submit(self, fn, *args) -> Future:
        job: Future = Future()
        try:
            job.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed to whoever waits on the job, as a pool does
            job.set_exception(exc)
        return job


def compile_segments(
    segments: Sequence[tuple[str, Rule]],
    *,
    as_of: datetime,
    catalog: FieldCatalog,
    events: pa.Table | EventSource | None = None,
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
    events: pa.Table | EventSource | None = None,
    memberships: Mapping[str, pa.Array] | None = None,
    threads: int | None = None,
) -> dict[str, pa.Array]:
    """The contact ids each segment's rule selects, in one pass over `batches` (on ``threads``
    threads, default `evaluation_threads()`; see `SegmentEvaluator.stream`)."""
    evaluator = SegmentEvaluator(segments, as_of=as_of, catalog=catalog, events=events, memberships=memberships)
    # Keep the id column and one bit per contact and segment while streaming; filter once at the end,
    # so each segment's ids are copied once (not per batch and again to concatenate).
    ids: list[pa.Array] = []
    masks: dict[str, list[Mask]] = {sid: [] for sid in evaluator.segment_ids}
    for batch, found in evaluator.stream(batches, threads=threads):
        ids.append(batch.column(batch.schema.get_field_index("contact_id")))
        for sid, mask in found.items():
            masks[sid].append(mask)
    return select_members(ids, masks, threads=threads)


def select_members(ids: list[pa.Array], masks: dict[str, list[Mask]], *,
                   threads: int | None = None) -> dict[str, pa.Array]:
    """Each segment's contact ids: the batches' id columns filtered by its per-batch masks (both
    lists are emptied as they are used). The ids are concatenated once, so each segment's filter
    writes one array directly (no per-segment concatenation of per-batch pieces). Segments are
    filtered on up to ``threads`` threads; the answer keeps their order."""
    try:
        everyone: pa.Array | pa.ChunkedArray = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
        flat = True
    except pa.ArrowInvalid:  # more than 2 GiB of ids: filter batch by batch
        everyone, flat = pa.chunked_array(ids, pa.string()), False
    ids.clear()

    def chosen(sid: str) -> pa.Array:
        parts = masks.pop(sid)
        if flat:
            return everyone.filter(pa.concat_arrays(parts)) if parts else everyone
        selected = everyone.filter(pa.chunked_array(parts, pa.bool_()))
        return _flat(selected) if selected.num_chunks else pa.array([], pa.string())

    order = list(masks)
    threads = evaluation_threads() if threads is None else max(1, threads)
    if threads == 1 or len(order) < 2:
        return {sid: chosen(sid) for sid in order}
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="evaluation") as pool:
        return dict(zip(order, pool.map(chosen, order), strict=True))


# ---------------------------------------------------------------------------------------------------
# Leaves


def condition_mask(
    field_type: FieldType,
    op: str,
    literal: Any,
    values: pa.Array,
    as_of: datetime,
    lowered: Callable[[], Any],
    blank: _Blank | None = None,
) -> Mask:
    """One condition over a column, as a null-free boolean array (SPEC §2 semantics). ``blank``: the
    column's empty masks when the caller shares them between leaves."""
    blank = blank or _Blank(field_type, values)
    if op in NEGATIONS:
        if NEGATIONS[op] == "is_empty":
            return blank.present
        return pc.invert(condition_mask(field_type, NEGATIONS[op], literal, values, as_of, lowered, blank))
    if op == "is_empty":
        return blank.empty
    positive = _positive(field_type, op, literal, values, as_of, lowered)
    # Kleene AND: a null answer (a missing value) is false where the value is empty, as every null is.
    found = pc.and_kleene(blank.present, positive)
    return pc.fill_null(found, False) if found.null_count else found


def _missing_answer(decide: Callable[[pa.Array, Callable], Mask], value_type: pa.DataType) -> bool:
    """What a condition answers for a missing value (a null)."""
    missing = pa.nulls(1, value_type)
    return decide(missing, lambda: missing)[0].as_py()


def _per_distinct_value(values: pa.DictionaryArray, decide: Callable[[pa.Array, Callable], Mask],
                        when_missing: bool, codes: pa.Array) -> Mask:
    """A leaf over a dictionary-encoded column: decided once per distinct value, then spread by index.

    A null index is a missing value: it gets the answer the same condition gives a null, kept in one
    more row after the distinct values (``codes``: the indices with nulls pointing to it)."""
    return spread(_distinct_answers(values, decide, when_missing), codes)


def _distinct_answers(values: pa.DictionaryArray, decide: Callable[[pa.Array, Callable], Mask],
                      when_missing: bool) -> Spreadable:
    """`_per_distinct_value`'s answers before the spread: one per distinct value, then (when an
    index is null) the missing value's."""
    distinct = values.dictionary
    per_value = decide(distinct, lambda: _lower(distinct))
    if values.indices.null_count:
        per_value = pa.concat_arrays([per_value, pa.array([when_missing], pa.bool_())])
    return spreadable(per_value)


def _spread_missing(decided: Spreadable, indices: pa.Array, valid: np.ndarray) -> Mask:
    """`spread` over a dictionary column's integer indices with nulls, ``decided`` holding the missing
    value's answer last (`_distinct_answers`, `_KnownValues.answers`), without filling the nulls first
    (Arrow's ``fill_null``: ~0.5 ms per 131,072 indices, once per column and batch): the answers are
    taken (or the odd one compared) by numpy straight from the index buffer — a null's slot holds any
    number, clipped into range, its answer then replaced — and every null row gets the missing
    value's answer from the validity bits (``valid``: the indices' validity, unpacked)."""
    size, trues = len(decided.answers), decided.trues
    if trues == 0 or trues == size:
        return _constant(trues != 0, len(indices))
    kind = np.dtype(indices.type.to_pandas_dtype())
    raw = np.frombuffer(indices.buffers()[1], kind, count=len(indices), offset=indices.offset * kind.itemsize)
    answers = np.frombuffer(decided.answers.buffers()[1], np.uint8, count=size, offset=decided.answers.offset)
    if decided.odd is not None:
        flags = raw == decided.odd if trues == 1 else raw != decided.odd
    else:
        flags = answers.take(raw, mode="clip").view(np.bool_)  # every answer is 0 or 1
    if answers[size - 1]:
        flags |= ~valid
    else:
        flags &= valid
    return _packed_flags(flags)


class _KnownValues:
    """A leaf's answers per string value, kept across the batches of a pass.

    Each batch of a dictionary-encoded column brings its own dictionary — the same few values in
    another order per row group — so deciding it per batch repeats a dozen kernel calls on a
    dozen values every time. Here a batch's dictionary is looked up among the values already
    decided (plain Python dictionary lookups), and only unseen values are decided, with the same
    ``decide``: every value's answer is the one `_per_distinct_value` gives it. Large dictionaries
    (or a pass with too many distinct values) are left to `_per_distinct_value` (None)."""

    MAX_DICTIONARY = 4096  # values per batch's dictionary looked up here
    MAX_KNOWN = 65_536  # values remembered for the pass

    def __init__(self, decide: Callable[[pa.Array, Callable], Mask]):
        self.decide = decide
        self.known: dict[str | None, bool] = {}

    def answers(self, values: pa.DictionaryArray, when_missing: bool, distinct: list | None = None,
                ) -> Spreadable | None:
        """``distinct``: the dictionary's values as Python objects when the caller has them (one
        conversion per batch and column, `_Batch.dictionary_values`, not one per leaf)."""
        dictionary = values.dictionary
        if dictionary.type != pa.string() or len(dictionary) > self.MAX_DICTIONARY:
            return None
        distinct = dictionary.to_pylist() if distinct is None else distinct
        known = self.known
        unseen = [v for v in dict.fromkeys(distinct) if v not in known]
        if unseen:
            if len(known) + len(unseen) > self.MAX_KNOWN:
                return None
            fresh = pa.array(unseen, pa.string())
            known.update(zip(unseen, self.decide(fresh, lambda: _lower(fresh)).to_pylist(), strict=True))
        flags = [known[v] for v in distinct]
        if values.indices.null_count:  # the row `dictionary_codes` points a missing value to
            flags.append(when_missing)
        return _spreadable_flags(flags)


@dataclass(frozen=True)
class Spreadable:
    """Answers per distinct value (or per activity index row), ready to be spread over many batches:
    as uint8, because Arrow takes bytes about twice as fast as bits, and with the one position whose
    answer differs from all others when there is one (then a comparison of the codes is cheaper still)."""

    answers: pa.Array
    trues: int
    odd: int | None


def spreadable(answers: Mask) -> Spreadable:
    size, trues = len(answers), answers.true_count
    odd = None
    if 0 < trues < size and (trues == 1 or trues == size - 1):
        odd = pc.index(answers, trues == 1).as_py()
    return Spreadable(answers.cast(pa.uint8()), trues, odd)


def _spreadable_flags(flags: list[bool]) -> Spreadable:
    """`_spreadable_bytes` of a few answers held as Python booleans (a batch's dictionary): counted in
    Python and wrapped as bytes, without numpy's per-call costs (a dozen leaves per batch ask)."""
    size, trues = len(flags), sum(flags)
    odd = None
    if 0 < trues < size and (trues == 1 or trues == size - 1):
        odd = flags.index(trues == 1)
    return Spreadable(pa.Array.from_buffers(pa.uint8(), size, [None, pa.py_buffer(bytes(flags))]), trues, odd)


def _spreadable_bytes(answers: np.ndarray) -> Spreadable:
    """`spreadable` of answers already held as uint8 (0 / 1), without a round trip through bits."""
    size, trues = len(answers), int(np.count_nonzero(answers))
    odd = None
    if 0 < trues < size and (trues == 1 or trues == size - 1):
        odd = int(np.flatnonzero(answers if trues == 1 else answers == 0)[0])
    return Spreadable(pa.array(answers, pa.uint8()), trues, odd)


def spread(decided: Spreadable, codes: pa.Array) -> Mask:
    """``answers[codes]`` as a mask (``codes``: null-free positions in the answers).

    The codes are in range by construction — a dictionary column's indices (Arrow validates a
    dictionary array's indices against its dictionary; a missing value points to the one row after
    it, `_Batch.dictionary_codes`) or a batch's rows in the activity index (`_positions`: the
    no-events row is the last answer) — so Arrow's bounds check is skipped: it is more than half of
    the take's CPU (~190 of ~270 us per 131,072 codes), and ~35 leaves of a batch spread. The bytes
    taken are packed into the mask's bits by numpy (~9 us per 131,072, against ~70 us for Arrow's
    cast to boolean): every answer is 0 or 1, and a packed byte is a true bit exactly where the cast's
    non-zero test is."""
    size, trues = len(decided.answers), decided.trues
    if trues == 0 or trues == size:
        return _constant(trues != 0, len(codes))
    if decided.odd is not None:
        return _odd_mask(codes, decided.odd, equal=trues == 1)
    return _packed_mask(pc.take(decided.answers, codes, boundscheck=False))


def _odd_mask(codes: pa.Array, odd: int, *, equal: bool) -> Mask:
    """Where ``codes`` equal (``equal``) or differ from ``odd``, compared and packed by numpy (~21 us per
    131,072 int32 codes, against ~61 us for Arrow's comparison: ~22 spreads of a batch take this path)."""
    if codes.null_count or not pa.types.is_integer(codes.type):
        return (pc.equal if equal else pc.not_equal)(codes, pa.scalar(odd, codes.type))
    kind = np.dtype(codes.type.to_pandas_dtype())
    raw = np.frombuffer(codes.buffers()[1], kind, count=len(codes), offset=codes.offset * kind.itemsize)
    return _packed_flags(raw == odd if equal else raw != odd)


def _packed_mask(flags: pa.Array) -> Mask:
    """A null-free uint8 array as the mask of its non-zero bytes (``flags.cast(pa.bool_())``)."""
    if flags.null_count:
        return flags.cast(pa.bool_())
    return _packed_flags(np.frombuffer(flags.buffers()[1], np.uint8, count=len(flags), offset=flags.offset))


def empty_mask(field_type: FieldType, values: pa.Array) -> Mask:
    """Where the value is empty (SPEC §2: missing, "", NaN, an empty list), null-free.

    A dictionary-encoded column is decided once per distinct value and spread over its indices: the
    usual dictionary holds no empty value, and the mask is then the indices' nulls, a copy of their
    validity bits, instead of a comparison of every row's decoded string (2-5 ms per 131k batch and
    column). Missing values are added by Kleene OR with ``is_null``, which costs a fraction of
    ``fill_null``'s general kernel."""
    if isinstance(values, pa.DictionaryArray):
        return _empty_by_value(field_type, values)
    if field_type is FieldType.STRING:
        by_length = _empty_strings(values)
        if by_length is not None:
            return by_length
        found = pc.equal(values, "")
    elif field_type is FieldType.NUMBER:
        found = pc.is_nan(values)
    elif field_type is FieldType.LIST:
        found = pc.equal(pc.list_value_length(values), 0)
    else:
        return pc.is_null(values)
    return pc.or_kleene(found, pc.is_null(values)) if found.null_count else found


def _empty_strings(values: pa.Array) -> Mask | None:
    """`empty_mask` of a long plain string column from its buffers: a value is empty where its offsets
    are equal (no bytes: "") or its validity bit is clear (missing), compared and packed by numpy
    (~40 us per 131,072 values, against ~500 us for Arrow's string comparison with ""). None when
    the column is short or not ``string``."""
    if not isinstance(values, pa.Array) or not pa.types.is_string(values.type) or len(values) < _NUMPY_FROM:
        return None
    validity, offsets, _ = values.buffers()
    if offsets is None:
        return None
    bounds = np.frombuffer(offsets, np.int32, count=len(values) + 1, offset=values.offset * 4)
    flags = bounds[1:] == bounds[:-1]
    if values.null_count:
        flags |= ~_unpacked(validity, values)
    return _packed_flags(flags)


def _empty_by_value(field_type: FieldType, values: pa.DictionaryArray) -> Mask:
    """`empty_mask` of a dictionary-encoded column: each distinct value decided once, then spread
    by index (a null index: missing, so empty)."""
    indices = values.indices
    per_value = empty_mask(field_type, values.dictionary)
    missing = pc.is_null(indices)
    trues = per_value.true_count
    if trues == 0:
        return missing
    if trues == len(per_value):
        return _constant(True, len(indices))
    if trues == 1:  # the one empty value (""): a comparison of the indices
        found = pc.equal(indices, pa.scalar(pc.index(per_value, True).as_py(), indices.type))
    else:
        found = _packed_mask(per_value.cast(pa.uint8()).take(indices))
    # a null index is null in ``found`` and true in ``missing``: Kleene OR leaves no null
    return pc.or_kleene(found, missing) if indices.null_count else found


def _positive(field_type, op, literal, values, as_of, lowered) -> pa.Array:
    if field_type is FieldType.STRING:
        if op == "matches":
            return pc.match_substring_regex(values, literal)
        if op in ("starts_with", "ends_with"):
            found = _folded_affix(values, fold(literal), suffix=op == "ends_with")
            if found is not None:
                return found
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
        numbers = _float_values(values)
        if numbers is not None:  # compared by numpy (its answers at nulls are overridden by the caller)
            with np.errstate(invalid="ignore"):  # a null's slot may hold a signalling NaN
                if op == "between":
                    return _packed_flags((numbers >= float(literal[0])) & (numbers <= float(literal[1])))
                return _packed_flags(_NUMPY_COMPARE[op](numbers, float(literal)))
        if op == "between":
            return pc.and_(pc.greater_equal(values, float(literal[0])), pc.less_equal(values, float(literal[1])))
        compare = {"eq": pc.equal, "gt": pc.greater, "gte": pc.greater_equal, "lt": pc.less, "lte": pc.less_equal}
        return compare[op](values, float(literal))
    elif field_type is FieldType.BOOLEAN:
        return values if op == "is_true" else pc.invert(values)
    elif field_type is FieldType.LIST:
        return _list_has(lowered(), literal, every=op == "has_all")
    else:
        return _instant(field_type, op, literal, values, as_of)
    raise ValueError(f"operator {op!r} on {field_type}")


_NUMPY_FROM = 1_024  # values: below this, Arrow's comparison costs less than numpy's and the packing


def _float_values(values: pa.Array) -> np.ndarray | None:
    """A long float64 column's values as numpy reads them in place (a null's slot holds any number),
    for comparisons with a number: numpy's compare and pack take ~21 us per 131,072 values against
    ~60 us for Arrow's comparison kernels. None when the column is short, not float64 or all null.

    Only `condition_mask` asks (through `_positive`): it ANDs the answer with the column's present
    mask (false at every null, Kleene AND), so an answer at a null's slot never reaches a mask; NaN
    compares false either way, and -0.0 equals 0.0 in both."""
    if not isinstance(values, pa.Array) or values.type != pa.float64() or len(values) < _NUMPY_FROM:
        return None
    data = values.buffers()[1]
    if data is None:
        return None
    return np.frombuffer(data, np.float64, count=len(values), offset=values.offset * 8)


def _packed_flags(flags: np.ndarray) -> Mask:
    """A numpy array of booleans (or of bytes, each 0 or not) as a null-free mask, its bits packed by numpy."""
    bits = pa.py_buffer(np.packbits(flags, bitorder="little"))
    return pa.BooleanArray.from_buffers(pa.bool_(), len(flags), [None, bits])


def _list_items(values: pa.Array, wanted: Mapping[str, int] | None = None) -> _ListItems:
    """A list column's items case-folded, with each row's first and past-the-end item positions in them:
    the child values between the batch's first and last offset (a sliced list keeps all its children).
    ``wanted``: the folded items the run's list leaves on this column ask for (numbered), if known."""
    first, count, relative = _owned_children(values)
    flat = _lower(values.values.slice(first, count))
    return _ListItems(flat, relative.slice(0, len(values)), relative.slice(1, len(values)), wanted)


class _ListItems:
    """A batch's list column for its list leaves: the folded items (``flat``) with each row's item
    range (``starts``, ``ends``).

    When the run's leaves on the column ask for few items in all (``wanted``, gathered when the rules
    are compiled), the batch's items are hashed once — each item's number among the wanted ones,
    with the row it belongs to — and every leaf answers from those integers (a table lookup and a
    scatter per group of items) instead of hashing every item again for each leaf and group and
    counting hits with a running sum: a has_all of two items hashed the items twice, and every
    tags leaf of the bench's 50 segments did it again on the same batch."""

    __slots__ = ("_coded", "_numbers", "_row_digits", "ends", "flat", "starts", "wanted")

    MAX_WANTED = 4096  # wanted items looked up by number (a table of this many bytes per group)

    def __init__(self, flat: pa.Array, starts: pa.Array, ends: pa.Array, wanted: Mapping[str, int] | None):
        self.flat, self.starts, self.ends = flat, starts, ends
        self.wanted = wanted if wanted and len(wanted) <= self.MAX_WANTED else None
        self._coded: tuple[np.ndarray, np.ndarray] | None = None
        self._numbers: np.ndarray | None = None
        self._row_digits: tuple | None = None

    def has(self, group: list[str]) -> Mask | None:
        """Whether each row holds any of ``group`` (folded items); None when they are not all numbered."""
        wanted = self.wanted
        if wanted is None or not group or any(item not in wanted for item in group):
            return None
        digits = self._digits_per_row()
        if digits is not None:  # one AND of each row's counts with the group's digits
            counts, width = digits
            chosen = sum(((1 << width) - 1) << (number * width) for number in {wanted[item] for item in group})
            return _packed_flags(np.bitwise_and(counts, np.int64(chosen)) != 0)
        numbers, rows = self._numbered()
        chosen = np.zeros(len(wanted) + 1, np.bool_)  # the last number: an item no leaf asks for (or null)
        chosen[[wanted[item] for item in group]] = True
        found = np.zeros(len(self.starts), np.bool_)
        found[rows[chosen[numbers]]] = True
        return pa.array(found, pa.bool_())

    def _item_numbers(self) -> np.ndarray:
        """Each item's number among the wanted items (their count when unwanted or null)."""
        if self._numbers is None:
            wanted = self.wanted
            values = pa.array(list(wanted), pa.string())  # a dict keeps its numbering order
            found = pc.index_in(self.flat, value_set=values)
            numbers = np.frombuffer(found.buffers()[1], np.int32, count=len(found), offset=found.offset * 4)
            if found.null_count:  # a null's value slot is undefined: the count in its place (no fill_null)
                numbers = np.where(_unpacked(found.buffers()[0], found), numbers, np.int32(len(wanted)))
            self._numbers = numbers
        return self._numbers

    def _numbered(self) -> tuple[np.ndarray, np.ndarray]:
        """Each item's number among the wanted items (`_item_numbers`) and its row."""
        if self._coded is None:
            starts = self.starts.to_numpy(zero_copy_only=False)
            lengths = self.ends.to_numpy(zero_copy_only=False) - starts
            rows = np.repeat(np.arange(len(starts), dtype=np.int32), lengths)  # int32: half the bytes
            self._coded = (self._item_numbers(), rows)
        return self._coded

    def _digits_per_row(self) -> tuple[np.ndarray, int] | None:
        """Each row's count of every wanted item, packed as ``width``-bit digits of one integer (digit n:
        how many times the row holds the item numbered n; a count never reaches 2**width, so no digit
        carries into the next), and ``width``; None when they do not fit in 63 bits. Once per batch
        for every group: each item's digit weight looked up by its number, a running sum over the
        items, read at the rows' ends and starts — no row number repeated per item and no scatter per
        group (Arrow's and numpy's segmented reductions cost ~10 ns a row, this ~2)."""
        if self._row_digits is None:
            count = len(self.wanted)
            starts = self.starts.to_numpy(zero_copy_only=False).astype(np.int64)
            ends = self.ends.to_numpy(zero_copy_only=False).astype(np.int64)
            longest = int((ends - starts).max()) if len(starts) else 0
            width = longest.bit_length()
            if width * count > 63:
                self._row_digits = (None,)
            else:
                weights = np.zeros(count + 1, np.int64)  # the last number (unwanted, null) weighs nothing
                weights[:count] = np.left_shift(np.int64(1), np.arange(count, dtype=np.int64) * width)
                last = int(ends.max()) if len(ends) else 0
                running = np.zeros(last + 1, np.int64)
                np.cumsum(weights.take(self._item_numbers()[:last]), out=running[1:])
                self._row_digits = (running.take(ends) - running.take(starts), width)
        found = self._row_digits
        return None if found[0] is None else found


def _owned_children(values: pa.Array) -> tuple[int, int, pa.Array]:
    """A list or map array's child range: (its first child, how many children, the offsets relative to
    that first child). A sliced array keeps all its parent's children; these are the ones it owns."""
    offsets = values.offsets
    first = offsets[0].as_py()
    relative = pc.subtract(offsets, pa.scalar(first, offsets.type)) if first else offsets
    return first, offsets[-1].as_py() - first, relative


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind)


def _list_has(items: _ListItems, literal: list[str], *, every: bool) -> Mask:
    """has_any / has_all: a row matches when its list holds any / every wanted item (case-folded).

    ``items``: `_list_items` of the column. Answered from the items' numbers among the run's wanted
    items when they cover ``literal`` (`_ListItems.has`); else counts hits per row with a running sum
    read at the offsets (no hashing of row numbers). A null list may still own child values (Arrow
    allows it, and Parquet readers produce it): its row gets some answer here, which the caller's
    empty mask overrides."""
    wanted = list(dict.fromkeys(fold(v) for v in literal))
    result: Mask | None = None
    for group in ([w] for w in wanted) if every else [wanted]:
        has = items.has(group)
        if has is None:
            hits = pc.cast(pc.fill_null(pc.is_in(items.flat, value_set=pa.array(group, pa.string())), False),
                           pa.int64())
            running = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(hits)])
            has = pc.greater(pc.subtract(running.take(items.ends), running.take(items.starts)), 0)
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
        return _compare_days(values, parse_instant(literal), pc.equal)
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
    return _compare_days(values, bound, kernel)


def _compare_days(values: pa.Array, bound: date | datetime, kernel) -> pa.Array:
    """``kernel`` between each value's UTC calendar date and the bound's. Instants are compared with
    the UTC midnights around that day instead of being cast to dates (one kernel less per leaf)."""
    day = bound.astimezone(UTC).date() if isinstance(bound, datetime) else bound
    if values.type == _TS and day < date.max:
        start = pa.scalar(datetime(day.year, day.month, day.day, tzinfo=UTC), _TS)
        end = pa.scalar(datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1), _TS)
        if kernel is pc.less:  # date < day
            return pc.less(values, start)
        if kernel is pc.greater_equal:  # date >= day
            return pc.greater_equal(values, start)
        if kernel is pc.greater:  # date > day
            return pc.greater_equal(values, end)
        if kernel is pc.less_equal:  # date <= day
            return pc.less(values, end)
        if kernel is pc.equal:
            return pc.and_(pc.greater_equal(values, start), pc.less(values, end))
    if pa.types.is_timestamp(values.type):
        values = pc.cast(values, pa.date32())
    return kernel(values, pa.scalar(day, pa.date32()))


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
    """Case-folded as Arrow's ``utf8_lower`` does (see `text.fold`). Text that is all ASCII (emails,
    tags, ids: nearly always) is folded by ``ascii_lower``, which maps A-Z exactly as ``utf8_lower``
    maps them and leaves every other byte alone, as ``utf8_lower`` leaves every other ASCII code
    point: the same result at about a quarter of the CPU."""
    if _all_ascii(values):
        return pc.ascii_lower(values)
    return pc.utf8_lower(values)


_ASCII_CHECK_FROM = 1_024  # values: below this, checking costs more than it saves


def _folded_affix(values: pa.Array, wanted: str, *, suffix: bool) -> pa.Array | None:
    """Whether each folded value ends (``suffix``) or starts with ``wanted`` (folded, ASCII), without
    folding whole values; None when this shortcut does not apply. Nulls stay null.

    ``utf8_lower`` maps each code point to one code point, and ASCII ones as ``ascii_lower`` does; a
    byte below 0x80 is always a whole code point. So while a value's bytes read from its end (start)
    are ASCII, they are its last (first) code points, and its folded form ends (starts) with
    ``wanted`` only if each of them, ASCII-folded, is ``wanted``'s byte at the same place. The bytes
    are compared one place at a time by numpy, straight from the data buffer (one gather of a byte
    per value still matching into buffers reused from place to place: no copy of the column, no scan
    of its other bytes, no fresh pages); a value is out at its first differing ASCII byte. Only a
    value reaching a byte >= 0x80 while it still matches (a code point such as "İ" may fold into an
    ASCII letter, or change its length) — or shorter in bytes than ``wanted`` but not empty (a code
    point's folded form may be longer than itself) — is folded by ``utf8_lower`` and decided again: a
    few, in text that is mostly ASCII at its ends (emails' domains)."""
    if not wanted or not wanted.isascii() or len(values) < _ASCII_CHECK_FROM or not isinstance(values, pa.Array) \
            or not pa.types.is_string(values.type):
        return None
    _, offsets, data = values.buffers()
    if offsets is None or data is None:
        return None
    size, code = len(values), wanted.encode()
    width = len(code)
    bounds = np.frombuffer(offsets, np.int32, count=size + 1, offset=values.offset * 4)
    lengths = bounds[1:] - bounds[:-1]
    raw = np.frombuffer(data, np.uint8)
    # each value's window (its first ``width`` bytes, or its last: from its end - width) in the data
    # buffer; place k of the window is read through the view of the data starting k bytes in
    at = bounds[1:] - width if suffix else bounds[:-1]
    alive = lengths >= width  # values still matching (a mask over all, then their rows: ``rows``)
    doubtful = (lengths > 0) & ~alive
    at = at.astype(np.int64)  # numpy's gathers index by intp; a value alive has its window inside the buffer
    rows: np.ndarray | None = None
    byte, high, matching = np.empty(size, np.uint8), np.empty(size, np.bool_), np.empty(size, np.bool_)
    for step in range(width):
        if rows is None and np.count_nonzero(alive) * 2 < size:
            rows = np.flatnonzero(alive)
            at = at[rows]
        place = width - 1 - step if suffix else step  # from the end inwards for a suffix
        expected = code[place]
        count = size if rows is None else len(rows)
        found, big, same = byte[:count], high[:count], matching[:count]
        np.take(raw[place:], at, mode="clip", out=found)  # a window outside the data: a value not alive
        np.greater_equal(found, 0x80, out=big)
        if 0x61 <= expected <= 0x7A:  # a lower-case letter: its capital (bit 0x20 clear) folds to it
            np.bitwise_or(found, 0x20, out=found)
        np.equal(found, expected, out=same)
        if rows is None:
            if big.any():
                doubtful |= alive & big
            alive &= same
        else:
            if big.any():
                doubtful[rows[big]] = True
            rows, at = rows[same], at[same]
    if rows is not None:
        alive = np.zeros(size, np.bool_)
        alive[rows] = True
    found = _flags_like(alive, values)
    if not doubtful.any():
        return found
    chosen = pa.array(doubtful, pa.bool_())
    kernel = pc.ends_with if suffix else pc.starts_with
    again = kernel(pc.utf8_lower(values.filter(chosen)), wanted)
    return pc.replace_with_mask(found, chosen, again)


def _flags_like(flags: np.ndarray, values: pa.Array) -> Mask:
    """A numpy boolean array as a mask with the nulls of ``values`` (their validity bits shared, not copied)."""
    if not values.null_count:
        return _packed_flags(flags)
    shift = values.offset % 8
    if shift:
        flags = np.concatenate([np.zeros(shift, np.bool_), flags])
    bits = pa.py_buffer(np.packbits(flags, bitorder="little"))
    validity = values.buffers()[0].slice(values.offset // 8)
    return pa.BooleanArray.from_buffers(pa.bool_(), len(values), [validity, bits], values.null_count, shift)


def _all_ascii(values: pa.Array) -> bool:
    """Whether every byte of a string array's values (the data buffer's range its offsets span,
    null slots included) is below 0x80, read straight from the buffers."""
    if not isinstance(values, pa.Array) or len(values) < _ASCII_CHECK_FROM:
        return False
    if pa.types.is_string(values.type):
        width = np.int32
    elif pa.types.is_large_string(values.type):
        width = np.int64
    else:
        return False
    _, offsets, data = values.buffers()
    if offsets is None:
        return False
    bounds = np.frombuffer(offsets, width, count=len(values) + 1, offset=values.offset * np.dtype(width).itemsize)
    first, last = int(bounds[0]), int(bounds[-1])
    if last <= first:
        return True
    return int(np.frombuffer(data, np.uint8, count=last - first, offset=first).max()) < 0x80


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def sorted_ids(ids: pa.Array | pa.ChunkedArray | Sequence[str] | None) -> pa.Array:
    """Distinct non-null ids, sorted: the set form `contains` looks batches up in."""
    return _sorted_unique(ids)


def contains(ordered: pa.Array, ids: pa.Array) -> Mask:
    """Which of ``ids`` are in ``ordered`` (from `sorted_ids`), null-free. Hashes only the slice of
    ``ordered`` between the batch's smallest and largest id, not the whole set per batch."""
    if len(ordered) == 0:
        return _constant(False, len(ids))
    return pc.is_valid(_positions(ordered, ids))


def sorted_positions(ordered: pa.Array, ids: pa.Array, *, chunk: int = 65_536) -> pa.Array:
    """Each of ``ids``' position in ``ordered`` (sorted, distinct; null when absent), ``chunk`` ids at a
    time: each chunk hashes only the slice of ``ordered`` between its smallest and largest id, so
    when ``ids`` are sorted too every hash table is small and stays in cache (several times faster
    than one `index_in` over the whole set). Unsorted ``ids`` are still answered exactly."""
    if len(ids) == 0 or len(ordered) == 0:
        return pa.nulls(len(ids), pa.int32())
    return pa.concat_arrays([_positions(ordered, ids.slice(start, chunk)).cast(pa.int32())
                             for start in range(0, len(ids), chunk)])


def is_strictly_sorted(values: pa.Array) -> bool:
    """Whether ``values`` (no nulls) increase strictly, bytewise as Arrow sorts strings: a set form
    `sorted_positions` can search."""
    if values.null_count:
        return False
    if len(values) < 2:
        return True
    return bool(pc.all(pc.greater(values.slice(1), values.slice(0, len(values) - 1))).as_py())


def _sorted_unique(ids: pa.Array | pa.ChunkedArray | Sequence[str] | None) -> pa.Array:
    if ids is None:
        return pa.array([], pa.string())
    if not isinstance(ids, pa.Array | pa.ChunkedArray):
        ids = pa.array(ids, pa.string())
    distinct = pc.unique(_flat(ids).cast(pa.string()))
    distinct = distinct.filter(pc.is_valid(distinct))
    return distinct.take(pc.sort_indices(distinct))


def _positions(index: pa.Array, ids: pa.Array, *, missing: int | None = None) -> pa.Array:
    """Each id's position in the sorted distinct `index` (null when absent, or ``missing`` when given:
    the activity lookup's row for contacts without events, then written in place by the integer
    search instead of a validity bitmap filled afterwards by a ``fill_null`` of the whole batch).

    Only the index's slice between the batch's smallest and largest id is looked up, so batches of a
    snapshot ordered by contact id cost time in proportion to the batch, not to the whole tenant:
    by binary search over integers when the ids allow it (`_same_width_positions`), else hashed."""
    start, stop = 0, len(index)
    if len(ids) and len(index):
        low, high = _bounds(ids)
        if low is None:
            found = pa.nulls(len(ids), pa.int32())
            return found if missing is None else pc.fill_null(found, pa.scalar(missing, pa.int32()))
        start = _search(index, low, right=False)
        stop = _search(index, high, right=True)
        local = _same_width_positions(index.slice(start, stop - start), ids, start, low, high, missing=missing)
        if local is not None:
            return local
    local = pc.index_in(ids, value_set=index.slice(start, stop - start))
    local = pc.add(local, pa.scalar(start, local.type)) if start else local
    return local if missing is None or not local.null_count else pc.fill_null(local, pa.scalar(missing, local.type))


_NUMBERED_FROM = 4_096  # ids: below this, Arrow's hash lookup costs less than the numbering


def _same_width_positions(ordered: pa.Array, ids: pa.Array, start: int, low: str, high: str, *,
                          missing: int | None = None) -> pa.Array | None:
    """`_positions` (offset by ``start``) by binary search over integers instead of hashing every id;
    ``ordered``: the index's slice between the batch's smallest id ``low`` and largest ``high``. None
    when the shortcut does not apply.

    It applies when every id of the batch and of ``ordered`` has the same byte length and ``low`` and
    ``high`` differ only in their last 8 bytes: every string between them bytewise starts with their
    common prefix, and equally long strings with one prefix sort bytewise as their remaining bytes
    read as a big-endian integer. Sequential ids of one width (``c000123456``, numeric ids) are so
    within a snapshot's batch; random ids (UUIDs) are not, and are hashed as before. Ids rising
    strictly (a snapshot's batches) are found by searching the slice's numbers among theirs (the
    slice is the shorter), others by searching each id among the slice's. ``missing``: the position
    absent ids get (no validity bitmap), as `_positions` says."""
    count, size = len(ids), len(ordered)
    if count < _NUMBERED_FROM or not isinstance(ids, pa.Array) or not isinstance(ordered, pa.Array) \
            or ids.null_count or not pa.types.is_string(ids.type) or not pa.types.is_string(ordered.type):
        return None  # chunked ids (one buffer per chunk) are hashed
    width = _common_width(ids)
    if not width or (size and width != _common_width(ordered)):
        return None
    low_bytes, high_bytes = low.encode(), high.encode()
    shared = 0
    while shared < width and low_bytes[shared] == high_bytes[shared]:
        shared += 1
    if width - shared > _WORD_BYTES:
        return None
    found = _tail_numbers(ids, width, shared)
    filled = missing is not None
    valid = np.zeros(0 if filled else count, np.bool_)
    positions = np.full(count, missing, np.int32) if filled else np.zeros(count, np.int32)
    if size:
        wanted = _tail_numbers(ordered, width, shared)
        if bool(np.all(found[1:] > found[:-1])):  # rising ids: each of the slice's among them
            at = np.searchsorted(found, wanted)
            np.minimum(at, count - 1, out=at)
            hit = found[at] == wanted
            if not filled:
                valid[at[hit]] = True
            positions[at[hit]] = np.flatnonzero(hit) + start
        else:
            at = np.searchsorted(wanted, found)
            np.minimum(at, size - 1, out=at)
            hit = wanted[at] == found
            if filled:
                positions = np.where(hit, at + start, missing).astype(np.int32)
            else:
                valid, positions = hit, (at + start).astype(np.int32)
    if filled:
        return pa.Array.from_buffers(pa.int32(), count, [None, pa.py_buffer(positions)], null_count=0)
    absent = count - int(np.count_nonzero(valid))
    validity = pa.py_buffer(np.packbits(valid, bitorder="little")) if absent else None
    return pa.Array.from_buffers(pa.int32(), count, [validity, pa.py_buffer(positions)], null_count=absent)


_WORD_BYTES = 8


def _common_width(values: pa.Array) -> int | None:
    """The byte length every value of a string array has, None when they differ."""
    bounds = np.frombuffer(values.buffers()[1], np.int32, count=len(values) + 1, offset=values.offset * 4)
    width = int(bounds[1] - bounds[0])
    return width if int(bounds[-1] - bounds[0]) == width * len(values) and \
        bool(np.all(np.diff(bounds) == width)) else None


def _tail_numbers(values: pa.Array, width: int, shared: int) -> np.ndarray:
    """Each value's bytes after its first ``shared`` (at most 8 of them) as a big-endian integer (uint64).

    Values of at least 8 bytes are read as their last 8 bytes, in place (a strided view of the data,
    no copy of each value's tail into a zeroed row): the bytes before the ``shared`` ones among them
    are the prefix every value compared shares (`_same_width_positions`), so they add the same to
    every number and leave their order and equalities as they are."""
    start = int(np.frombuffer(values.buffers()[1], np.int32, count=1, offset=values.offset * 4)[0])
    data = values.buffers()[2]
    if width >= _WORD_BYTES and len(values):
        tails = np.ndarray((len(values),), ">u8", buffer=data, offset=start + width - _WORD_BYTES, strides=(width,))
        return tails.astype(np.uint64)
    rows = np.frombuffer(data, np.uint8, count=len(values) * width, offset=start).reshape(len(values), width)
    padded = np.zeros((len(values), _WORD_BYTES), np.uint8)
    padded[:, _WORD_BYTES - (width - shared):] = rows[:, shared:]
    return padded.view(">u8").ravel().astype(np.uint64)


def _bounds(ids: pa.Array) -> tuple[str | None, str | None]:
    """The smallest and largest of ``ids`` (None, None when all are null). Ids in ascending order — a
    snapshot's batches are — give them as their first and last, found by one comparison of
    neighbours, several times cheaper than Arrow's min_max over strings."""
    if len(ids) == 0:
        return None, None
    if not ids.null_count and pa.types.is_string(ids.type) and _ascending(ids):
        return ids[0].as_py(), ids[len(ids) - 1].as_py()
    bounds = pc.min_max(ids)
    return bounds["min"].as_py(), bounds["max"].as_py()


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
