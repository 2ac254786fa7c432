"""A run's members as integer sets over the snapshot's contact keys (``snapshots.KEY``).

The pass keeps each segment's members as a ``KeySet`` (a bitmap over the key space,
``audience.keysets``) and, once for the whole pass, the contacts it read: their ids and keys in the
pass's order (``PassContacts``) — one id per contact, not one per membership. String ids are taken
from there only where ids must be written: the members that changed (their DynamoDB writes), and a
segment's state only when it cannot be kept as keys alone (``in_order``; ``state``).

Last run's state keeps its members' keys too, or only them (``state``), so the next diff is a set
operation on integers: last run's keys looked up in this run's bitmap (removed: their ids come from
the pass, or for members erased since from the state's ids or the key space's directory), this
run's bitmap minus last run's keys (added: their ids looked up by key). Keys from different key
spaces (a full snapshot rebuild numbers contacts afresh) are never compared: the run then falls back
to the string diff (``changes``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audience.evaluation import changes, engine, snapshots
from audience.keysets import KEY_DTYPE, KeySet, union
from audience.rules.vectorised import SegmentEvaluator, evaluation_threads, is_strictly_sorted, select_members


@dataclass(frozen=True)
class OrderedMembers:
    """A segment's member ids sorted bytewise (as ``changes.in_order``), their keys aligned: what the
    state holds."""

    ids: pa.Array
    keys: pa.Array  # uint32, no nulls

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class PassContacts:
    """The contacts of a pass: ids (string, ``ids``) and ``keys`` (uint32) aligned, in the pass's order.

    ``id_column`` may be the pass's batches' id columns as they were read (a ``pa.ChunkedArray``):
    they are joined into one array only when every id is needed (``ids``: a state's ids, a touched
    contact's key); the ids of a diff's few changed members are taken from the chunks
    (`take_ids`). A keys-only run asks no more than that, so its ~10M ids are never copied into one
    array (~140 MB and ~0.1 s on one core at the end of a 10M pass)."""

    id_column: pa.Array | pa.ChunkedArray
    # every contact's key (uint32) in the pass's order: one array, or the batches' key columns, joined
    # at the first ask (``keys``) — a keys-only pass over a full build's files never asks
    key_column: np.ndarray | list[np.ndarray]
    _positions: np.ndarray | None = field(default=None, repr=False)  # per key: its position (-1: none)
    _known: dict[str, int | None] = field(default_factory=dict, repr=False)  # id -> key, as asked
    _shape: tuple[bool, bool] | None = field(default=None, repr=False)  # (keys are positions, ids sorted)
    _order: str | None = field(default=None, repr=False)  # ``_layout``
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one join, whoever asks

    @property
    def keys(self) -> np.ndarray:
        """Every contact's key in the pass's order, as one array (the batches' keys joined at the first ask)."""
        column = self.key_column
        if isinstance(column, list):
            with self._lock:
                column = self.key_column
                if isinstance(column, list):
                    column = self.key_column = (column[0] if len(column) == 1 else
                                                np.concatenate(column) if column else np.zeros(0, KEY_DTYPE))
        return column

    @property
    def ids(self) -> pa.Array:
        """Every contact's id in the pass's order, as one array (the chunks joined at the first ask)."""
        column = self.id_column
        if isinstance(column, pa.ChunkedArray):
            with self._lock:
                column = self.id_column
                if isinstance(column, pa.ChunkedArray):
                    column = self.id_column = (column.chunk(0) if column.num_chunks == 1
                                               else column.combine_chunks())
        return column

    def take_ids(self, positions: np.ndarray) -> pa.Array:
        """The ids at these positions of the pass (int64, each in range), in their order: from each
        chunk that holds some, without joining the chunks (the positions are a diff's few)."""
        positions = np.asarray(positions, np.int64)
        column = self.id_column
        if not isinstance(column, pa.ChunkedArray):
            return column.take(pa.array(positions))
        lengths = np.fromiter((len(chunk) for chunk in column.chunks), np.int64, column.num_chunks)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        owner = np.searchsorted(starts, positions, side="right") - 1
        order = np.argsort(owner, kind="stable")
        grouped, taken = owner[order], []
        cuts = np.flatnonzero(np.diff(grouped)) + 1
        for group in np.split(order, cuts) if len(order) else []:
            chunk = int(owner[group[0]])
            taken.append(column.chunk(chunk).take(pa.array(positions[group] - starts[chunk])))
        if not taken:
            return pa.array([], column.type)
        found = pa.concat_arrays(taken)  # in the chunks' order: put back in the positions' order
        back = np.empty(len(order), np.int64)
        back[order] = np.arange(len(order))
        return found.take(pa.array(back))

    @classmethod
    def concat(cls, parts: Iterable[PassContacts]) -> PassContacts:
        parts = [p for p in parts if len(p.keys)]
        if not parts:
            return cls(pa.array([], pa.string()), np.zeros(0, KEY_DTYPE))
        if len(parts) == 1:
            return parts[0]
        return cls(pa.chunked_array([chunk for p in parts for chunk in _chunks(p.id_column)], parts[0].id_column.type),
                   np.concatenate([p.keys for p in parts]))

    def positions_of(self, keys: np.ndarray) -> np.ndarray:
        """Each key's position in the pass (int64; -1: no contact of the pass has it). The keys asked
        are few (a diff's changed members): when each contact's key is its position, or the keys
        rise in the pass's order (the files of a full build and its increments), they are found
        without a per-key map of the whole pass; only a pass in no key order builds one, once."""
        keys = np.asarray(keys).astype(np.int64, copy=False)
        count = len(self.id_column)  # not ``keys``: a pass whose keys are positions never joins them
        layout = self._layout()
        if layout == "positions":
            return np.where((keys >= 0) & (keys < count), keys, -1)
        if layout == "rising":
            at = np.searchsorted(self.keys, keys)
            hit = at < count
            hit[hit] = self.keys[at[hit]] == keys[hit]
            return np.where(hit, at, -1)
        if self._positions is None:
            size = int(self.keys.max()) + 1
            positions = np.full(size, -1, np.int64 if count > 2**31 - 1 else np.int32)
            positions[self.keys] = np.arange(count, dtype=positions.dtype)
            self._positions = positions
        inside = (keys >= 0) & (keys < len(self._positions))
        found = np.full(len(keys), -1, np.int64)
        found[inside] = self._positions[keys[inside]]
        return found

    def ids_of(self, keys: np.ndarray) -> pa.Array:
        """The ids of these keys (each a key of the pass), in the keys' order."""
        return self.take_ids(self.positions_of(keys))

    def _layout(self) -> str:
        """"positions" (each key is its contact's position), "rising" or "any": one scan per pass."""
        if self._order is None:
            count = len(self.keys)
            rising = count < 2 or bool(np.all(self.keys[1:] > self.keys[:-1]))
            identity = count == 0 or (rising and int(self.keys[0]) == 0 and int(self.keys[-1]) == count - 1)
            self._order = "positions" if identity else "rising" if rising else "any"
        return self._order

    def keys_of(self, ids: Iterable[str]) -> dict[str, int]:
        """The keys of those ``ids`` the pass read (a few: the stream's touched contacts)."""
        missing = [i for i in dict.fromkeys(ids) if i not in self._known]
        if missing:
            hit = np.flatnonzero(pc.fill_null(pc.is_in(self.id_column, value_set=pa.array(missing, pa.string())),
                                              False).to_numpy(zero_copy_only=False))
            found = dict(zip(self.take_ids(hit).to_pylist(), self.keys[hit].tolist(), strict=True))
            self._known.update({i: found.get(i) for i in missing})
        return {i: self._known[i] for i in ids if self._known.get(i) is not None}

    def shape(self) -> tuple[bool, bool]:
        """(whether each contact's key is its position in the pass — a pass over a full build's files —,
        whether the ids are strictly sorted), found once per pass."""
        if self._shape is None:
            self._shape = (self._layout() == "positions", is_strictly_sorted(self.ids))
        return self._shape

    def members(self, found: KeySet) -> tuple[pa.Array, pa.Array]:
        """Ids and keys (uint32) of the pass's contacts in ``found``, in the pass's order."""
        count = len(self.keys)
        keys = pa.array(self.keys, snapshots.KEY_TYPE)  # a view of the numpy keys, not a copy
        if self.shape()[0] and found.size >= count:  # the bitmap is the pass's boolean column as it is
            chosen = pa.BooleanArray.from_buffers(pa.bool_(), count, [None, pa.py_buffer(found.bits)])
            # each key is its contact's position: the members' keys are where their ids are, and one
            # take by them costs less than a second pass of the filter over every contact's id
            keys = keys.filter(chosen)
            return self.ids.take(keys), keys
        chosen = pa.array(found.contains(self.keys), pa.bool_())
        return self.ids.filter(chosen), keys.filter(chosen)


@dataclass(frozen=True)
class KeyedMembers:
    """A segment's members: their keys as a set, ids on demand from the pass's contacts."""

    keys: KeySet
    contacts: PassContacts

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def ids(self) -> pa.Array:
        """The members' ids in the pass's order (taken from the pass's contacts at each call)."""
        return self.contacts.members(self.keys)[0]

    def in_order(self) -> OrderedMembers:
        """Ids sorted bytewise with their keys: the state's order (a pass over sorted snapshot files
        is nearly sorted already)."""
        ids, keys = self.contacts.members(self.keys)
        if not self.contacts.shape()[1] and not is_strictly_sorted(ids):  # a sorted pass filters sorted
            order = pc.sort_indices(ids)
            ids, keys = ids.take(order), keys.take(order)
        return OrderedMembers(ids, keys)


def in_state_order(members: MutableMapping[str, KeyedMembers], *, threads: int | None = None,
                   ) -> Iterator[tuple[str, OrderedMembers]]:
    """Each segment's ``in_order`` members, in the mapping's order, taken on ``threads`` at once
    (default: the evaluation threads): each take is Arrow's (it releases the GIL), so a second core
    takes the next segment's ids while the first takes this one's, instead of one core after the pass.

    Each segment is popped from ``members`` when its take starts (its bitmap freed once it is
    taken), and about ``threads`` segments' ids are held at once: the one handed to the caller and
    those being taken (the next take starts only when the caller asks for the next segment)."""
    threads = evaluation_threads() if threads is None else max(1, threads)
    order = list(members)
    if threads == 1 or len(order) < 2:
        for sid in order:
            yield sid, members.pop(sid).in_order()
        return
    members[order[0]].contacts.shape()  # the pass's shape, found once before the threads ask for it
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="state-ids") as pool:
        pending: deque = deque()
        upcoming = iter(order)
        for sid in upcoming:
            pending.append((sid, pool.submit(members.pop(sid).in_order)))
            if len(pending) == threads:
                break
        while pending:
            sid, taking = pending.popleft()
            found = taking.result()
            yield sid, found
            del found, taking  # the caller's turn is over: its ids go before the next take starts
            nxt = next(upcoming, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(members.pop(nxt).in_order)))


def concat(results: list[Mapping[str, KeyedMembers]]) -> dict[str, KeyedMembers]:
    """Shards' keyed members (disjoint contacts) as one pass's: their contacts concatenated, each
    segment's sets united."""
    distinct: dict[int, PassContacts] = {}
    for result in results:
        for found in result.values():
            distinct.setdefault(id(found.contacts), found.contacts)
    contacts = PassContacts.concat(distinct.values())
    segments = {sid for result in results for sid in result}
    return {sid: KeyedMembers(union(r[sid].keys for r in results if sid in r), contacts) for sid in segments}


def evaluate(plan: engine.Plan, batches: Iterable[pa.RecordBatch], evaluator: SegmentEvaluator | None = None, *,
             threads: int | None = None, key_space_size: int = 0) -> dict[str, KeyedMembers] | dict[str, pa.Array]:
    """``engine.evaluate`` over batches read with ``keys=True``: every slot's members as a key set
    (``key_space_size``: the manifest's ``next_key``, so every shard's sets have one size). Batches
    without keys (files written before them) give plain ids, as ``engine.evaluate`` does.

    Each segment's set is built as the batches are placed (`_KeySets`), not after the last one: a
    batch's masks are written into the segments' bitmaps and let go, so once the last batch is
    placed the sets are (nearly) done — no mask of the pass is held to its end and concatenated,
    nor every contact's key joined and scanned, on one core after the pass."""
    ids: list[pa.Array] = []
    sets = _KeySets([slot.id for slot in plan.slots], key_space_size)
    for batch, placed in engine.placed_batches(plan, batches, evaluator, threads=threads):
        ids.append(batch.column(batch.schema.get_field_index("contact_id")))
        index = batch.schema.get_field_index(snapshots.KEY)
        column = batch.column(index) if index >= 0 else None
        sets.add(column.cast(snapshots.KEY_TYPE).to_numpy() if column is not None and column.null_count == 0
                 else None, placed)
        del placed, batch
    if not sets.keyed:
        return select_members(ids, sets.masks(), threads=threads)
    contacts = PassContacts(pa.chunked_array(ids) if ids else pa.array([], pa.string()), sets.keys,
                            _order=sets.layout())
    ids.clear()
    found = sets.finish(max(key_space_size, sets.top + 1), threads)
    return {sid: KeyedMembers(found.pop(sid), contacts) for sid in list(found)}


class _KeySets:
    """Every slot's members as a bitmap over the contact keys, written batch by batch as a pass
    places them (on the caller's thread, in the batches' order).

    While the pass's keys rise (a full build's files and its increments: each batch's keys strictly
    rising and above the previous batch's), a batch's masks are ORed into the bitmaps at their keys
    at once — a byte copy when its keys are consecutive from a multiple of 8 (each key its contact's
    position, as a full build numbers them), else its key range packed — and the masks are let go.
    A batch past that prefix (keys in no order) keeps its masks to the end, whose chosen keys are
    then added as before; a batch without keys makes the pass an id pass, whose masks for the
    prefix's batches are read back from the bitmaps (exact: the prefix's keys are distinct)."""

    def __init__(self, segments: list[str], size_hint: int):
        self.segments = segments
        self.capacity = (max(0, size_hint) + 7) // 8  # bytes of every bitmap
        self.bits = {sid: np.zeros(self.capacity, np.uint8) for sid in segments}
        self.keys: list[np.ndarray] = []  # every keyed batch's keys, in the pass's order
        self.prefix = 0  # batches whose masks are in the bitmaps (the first ones)
        self.held: list[tuple[np.ndarray | None, dict[str, pa.BooleanArray]]] = []  # the batches after them
        self.keyed = True
        self.count = 0  # contacts so far
        self.last = -1  # the largest key so far (the last one while the keys rise)
        self.top = -1
        self.positions = True  # each key so far is its contact's position in the pass

    def add(self, keys: np.ndarray | None, placed: dict[str, pa.BooleanArray]) -> None:
        if keys is None or not self.keyed:
            self.keyed = False
            self.held.append((keys, placed))
            return
        count = len(keys)
        self.keys.append(keys)
        if not count:
            if not self.held:
                self.prefix += 1
            else:
                self.held.append((keys, placed))
            return
        first, last = int(keys[0]), int(keys[-1])
        if not self.held and first > self.last and (count < 2 or bool(np.all(keys[1:] > keys[:-1]))):
            self.positions = self.positions and first == self.count and last - first == count - 1
            self.count, self.last, self.top = self.count + count, last, last
            self.prefix += 1
            self._write(keys, first, last, placed)
            return
        self.positions = False
        self.count += count
        self.top = max(self.top, int(keys.max()))
        self.held.append((keys, placed))

    def _grow(self, size: int) -> None:
        """Every bitmap at least ``size`` bytes (doubling: a pass without a key space size grows a few times)."""
        if size <= self.capacity:
            return
        capacity = max(size, 2 * self.capacity)
        for sid, bits in self.bits.items():
            grown = np.zeros(capacity, np.uint8)
            grown[:len(bits)] = bits
            self.bits[sid] = grown
        self.capacity = capacity

    def _write(self, keys: np.ndarray, first: int, last: int, placed: Mapping[str, pa.BooleanArray]) -> None:
        """One batch of the rising prefix (keys strictly rising, all above the bitmaps' bits so far)
        ORed into every segment's bitmap."""
        count = len(keys)
        self._grow(last // 8 + 1)
        start = first - first % 8  # the byte the batch's first key is in
        consecutive = last - first == count - 1 and start == first
        whole, rest = divmod(count, 8)
        spots = None
        for sid in self.segments:
            bits, mask = self.bits[sid], placed.get(sid)
            if mask is None or not mask.true_count:
                continue
            if consecutive and mask.offset % 8 == 0 and not mask.null_count:
                packed = np.frombuffer(mask.buffers()[1], np.uint8, count=(count + 7) // 8, offset=mask.offset // 8)
                at = first // 8
                # these bytes hold no bit yet (every key so far is below ``first``, a byte's first key):
                # copied, not ORed — an OR reads each fresh page first (the zero page), then faults
                # again to write it; a copy's write faults once
                bits[at:at + whole] = packed[:whole]
                if rest:
                    bits[at + whole] |= packed[whole] & ((1 << rest) - 1)
                continue
            if spots is None:
                spots = (keys - start).astype(np.int64)
            flags = np.zeros(last - start + 1, np.bool_)
            flags[spots] = mask.to_numpy(zero_copy_only=False) if not mask.null_count else \
                pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
            packed = np.packbits(flags, bitorder="little")
            bits[start // 8:start // 8 + len(packed)] |= packed

    def layout(self) -> str:
        """``PassContacts._layout`` of the pass's keys, known from the batches without a scan of them all."""
        return "positions" if self.positions else "any" if self.held else "rising"

    def finish(self, size: int, threads: int | None = None) -> dict[str, KeySet]:
        """Every segment's set over ``[0, size)`` (``size``: above every key of the pass)."""
        length = (size + 7) // 8
        self._grow(length)
        held, self.held = self.held, []

        def done(sid: str) -> tuple[str, KeySet]:
            bits = self.bits.pop(sid)
            if len(bits) != length:  # grown past it by doubling: only the set's bytes are kept
                bits = bits[:length].copy()
            chosen = [keys[mask.to_numpy(zero_copy_only=False)] for keys, placed in held
                      if (mask := placed.get(sid)) is not None and len(keys)]
            if chosen:
                bits |= KeySet.of(np.concatenate(chosen), size).bits[:length]
            return sid, KeySet(bits, size)

        threads = evaluation_threads() if threads is None else max(1, threads)
        if not held or threads == 1 or len(self.segments) < 2:
            return dict(map(done, self.segments))
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="evaluation") as pool:
            return dict(pool.map(done, self.segments))

    def masks(self) -> dict[str, list[pa.BooleanArray]]:
        """An id pass's masks, per segment in the batches' order: the prefix's read back from the
        bitmaps (its keys are distinct, and no other batch wrote there), then the batches held."""
        found: dict[str, list[pa.BooleanArray]] = {sid: [] for sid in self.segments}
        for keys in self.keys[:self.prefix]:
            for sid in self.segments:
                bits = self.bits[sid]
                inside = keys < len(bits) * 8
                chosen = np.zeros(len(keys), np.bool_)
                within = keys[inside]
                chosen[inside] = ((bits[within >> 3] >> (within & 7).astype(np.uint8)) & 1).view(np.bool_)
                found[sid].append(pa.array(chosen, pa.bool_()))
        for _, placed in self.held:
            for sid in self.segments:
                found[sid].append(placed[sid])
        return found


def diff(previous_ids: pa.Array | None, previous_keys: pa.Array | None, current: KeyedMembers,
         previous_set: KeySet | None = None,
         ids_of_gone: Callable[[np.ndarray], pa.Array] | None = None) -> tuple[pa.Array, pa.Array]:
    """``(added ids, removed ids)``, each sorted bytewise (the state's order): decided on the keys
    (last run's ``previous_ids`` with their ``previous_keys``; ``previous_set``: those keys as the
    state keeps them, ``state.State.key_set``, else built here).

    Both directions are bitmap differences; ids are then taken for the changed members only: from
    the pass's contacts (``positions_of``: no scan of the pass when its keys rise), and for members
    no longer in the pass (erased contacts) from last run's state, whose rows are found by key — or,
    a keys-only state (``previous_ids`` None), from ``ids_of_gone(keys)`` (the key space's
    directory, ``state``). Neither last run's ids nor keys are scanned whole unless such a member
    exists."""
    if previous_set is None:
        previous_set = KeySet.of(_key_array(previous_keys), current.keys.size)
    joined = (current.keys - previous_set).keys()
    left = (previous_set - current.keys).keys()
    added = changes.in_order(current.contacts.ids_of(joined).cast(pa.string()))
    at = current.contacts.positions_of(left)
    here = at >= 0
    removed = current.contacts.take_ids(at[here]).cast(pa.string())
    if not here.all():  # left the pass too: the ids only the state (or its key directory) has
        if previous_ids is None or previous_keys is None:
            if ids_of_gone is None:
                raise ValueError("a keys-only state's erased members need ids_of_gone")
            gone = ids_of_gone(left[~here])
        else:
            rows = np.flatnonzero(KeySet.of(left[~here]).contains(_key_array(previous_keys)))
            gone = previous_ids.take(pa.array(rows))
        removed = pa.concat_arrays([removed, gone.cast(pa.string())])
    return added, changes.in_order(removed)


def _chunks(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


def _key_array(keys: pa.Array) -> np.ndarray:
    return keys.to_numpy(zero_copy_only=False).astype(KEY_DTYPE, copy=False)


def segment_change(previous_ids: pa.Array | None, previous_keys: pa.Array | None, current: KeyedMembers, *,
                   recent: Iterable[str] = (), newer: Iterable[str] = (),
                   stored: Callable[[list[str]], set[str]] = lambda ids: set(),
                   previous_set: KeySet | None = None,
                   ids_of_gone: Callable[[np.ndarray], pa.Array] | None = None) -> changes.Change:
    """``changes.segment_change`` with the untouched contacts diffed on keys; the stream's touched
    contacts (few) are handled on their ids exactly as there (their keys looked up once per pass).

    The untouched contacts' diff is the whole diff less the touched ids on both sides (a contact is
    in ``(C - T) - (P - T)`` exactly when it is in ``(C - P) - T``): only the changed ids are
    filtered, never last run's whole column."""
    recent, newer = list(dict.fromkeys(recent)), list(dict.fromkeys(newer))
    added, removed = diff(previous_ids, previous_keys, current, previous_set, ids_of_gone)
    if not recent and not newer:
        return changes.Change(added, removed, len(current))
    touched = pa.array([*recent, *newer], pa.string())
    touched_keys = current.contacts.keys_of([*recent, *newer])
    members = current.keys.contains(np.fromiter(touched_keys.values(), np.int64))
    touched_members = pa.array([i for i, member in zip(touched_keys, members, strict=True) if member], pa.string())
    return changes.with_touches(changes.minus(added, touched), changes.minus(removed, touched), touched_members,
                                recent=recent, newer=newer, stored=stored, count=len(current))
