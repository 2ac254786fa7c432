"""A run's members as integer sets over the snapshot's contact keys (``snapshots.KEY``).

The pass keeps, beside each segment's member ids, their contact keys (uint32, dense within the
tenant's key space). Last run's state keeps them too (``state``), so the next diff is a set operation
on integers: one presence array over ``max key + 1`` per side, a scatter and a gather (Arrow
``scatter``/``take``) — no string hashing or comparison — and string ids are taken only for the
members that changed. Keys from
different key spaces (a full snapshot rebuild numbers contacts afresh) are never compared: the run
then falls back to the string diff (``changes``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from audience.evaluation import changes, engine, snapshots
from audience.rules.vectorised import SegmentEvaluator, is_strictly_sorted, select_members


@dataclass(frozen=True)
class KeyedMembers:
    """A segment's members: string ids and their contact keys, aligned."""

    ids: pa.Array
    keys: pa.Array  # uint32, no nulls

    def __len__(self) -> int:
        return len(self.ids)

    def in_order(self) -> KeyedMembers:
        """Sorted by id (as ``changes.in_order``), keys following: the state's order."""
        if is_strictly_sorted(self.ids):
            return self
        order = pc.sort_indices(self.ids)
        return KeyedMembers(self.ids.take(order), self.keys.take(order))


def concat(parts: Iterable[KeyedMembers]) -> KeyedMembers:
    parts = [p for p in parts if len(p)]
    if not parts:
        return KeyedMembers(pa.array([], pa.string()), pa.array([], snapshots.KEY_TYPE))
    return KeyedMembers(pa.concat_arrays([p.ids for p in parts]), pa.concat_arrays([p.keys for p in parts]))


def evaluate(plan: engine.Plan, batches: Iterable[pa.RecordBatch], evaluator: SegmentEvaluator | None = None, *,
             threads: int | None = None) -> dict[str, KeyedMembers] | dict[str, pa.Array]:
    """``engine.evaluate`` over batches read with ``keys=True``: every slot's members with their keys.
    Batches without keys (files written before them) give plain ids, as ``engine.evaluate`` does."""
    ids: list[pa.Array] = []
    keys: list[pa.Array] = []
    keyed = True
    bits: dict[str, list[pa.BooleanArray]] = {slot.id: [] for slot in plan.slots}
    for batch, placed in engine.placed_batches(plan, batches, evaluator, threads=threads):
        ids.append(batch.column(batch.schema.get_field_index("contact_id")))
        index = batch.schema.get_field_index(snapshots.KEY)
        column = batch.column(index) if index >= 0 else None
        keyed = keyed and column is not None and column.null_count == 0
        if keyed:
            keys.append(column.cast(snapshots.KEY_TYPE))
        for sid, mask in placed.items():
            bits[sid].append(mask)
    if not keyed:
        return select_members(ids, bits, threads=threads)
    everyone = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
    every_key = pa.concat_arrays(keys) if keys else pa.array([], snapshots.KEY_TYPE)
    ids.clear()
    keys.clear()
    found: dict[str, KeyedMembers] = {}
    for sid in list(bits):
        parts = bits.pop(sid)
        mask = pa.concat_arrays(parts) if parts else pa.array([], pa.bool_())
        found[sid] = KeyedMembers(everyone.filter(mask), every_key.filter(mask))
    return found


def present(values: pa.Array, among: pa.Array) -> pa.BooleanArray:
    """Which of ``values`` are in ``among`` (both contact keys, no nulls): ``among`` scattered into a
    presence array as long as the largest key, then looked up by ``values``."""
    if not len(values) or not len(among):
        return pc.fill_null(pa.nulls(len(values), pa.bool_()), False)
    size = max(pc.max(values).as_py(), pc.max(among).as_py()) + 1
    marks = pc.scatter(pc.fill_null(pa.nulls(len(among), pa.bool_()), True), among.cast(pa.int64()),
                       max_index=size - 1)
    return pc.fill_null(marks.take(values), False)


def diff(previous: KeyedMembers, current: KeyedMembers) -> tuple[pa.Array, pa.Array]:
    """``(added ids, removed ids)``: decided on the keys; only the changed members' ids are taken."""
    added = pc.invert(present(current.keys, previous.keys))
    removed = pc.invert(present(previous.keys, current.keys))
    return current.ids.filter(added), previous.ids.filter(removed)


def segment_change(previous: KeyedMembers, current: KeyedMembers, *, recent: Iterable[str] = (),
                   newer: Iterable[str] = (),
                   stored: Callable[[list[str]], set[str]] = lambda ids: set()) -> changes.Change:
    """``changes.segment_change`` with the untouched contacts diffed on keys; the stream's touched
    contacts (few) are handled on their ids exactly as there."""
    recent, newer = list(dict.fromkeys(recent)), list(dict.fromkeys(newer))
    if not recent and not newer:
        added, removed = diff(previous, current)
        return changes.Change(added, removed, len(current))
    touched = pa.array([*recent, *newer], pa.string())
    added, removed = diff(_without(previous, touched), _without(current, touched))
    return changes.with_touches(added, removed, current.ids, recent=recent, newer=newer, stored=stored)


def _without(members: KeyedMembers, ids: pa.Array) -> KeyedMembers:
    keep = pc.invert(pc.fill_null(pc.is_in(members.ids, value_set=ids), False))
    return KeyedMembers(members.ids.filter(keep), members.keys.filter(keep))
