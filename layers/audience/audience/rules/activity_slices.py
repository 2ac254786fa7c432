"""Event streams sorted by contact, merged into slices of disjoint contact ranges.

Every object of the event log is sorted by contact, so a run's events arrive as a few sorted streams
(one per object). Cutting them together at contact boundaries gives slices whose contacts no other
slice has: each slice is aggregated on its own, completely, and the slices' results are simply
concatenated in order — no run-wide contact dictionary, no merging of partial aggregates.

A slice is cut below the smallest "last buffered contact" of the streams that may still hold more
rows, so no contact of the slice can appear later in any stream. Memory holds about ``rows`` events
per slice (plus one batch per stream), whatever the length of history.

Order is checked where it costs nothing extra: here where one batch of a stream meets the next; inside
a piece by the consumer, which finds the piece's runs of one contact anyway (`vectorised._SliceAggregates`
refuses a piece whose runs do not ascend). A cut needs no check: the binary search leaves
``ids[cut - 1] < bound <= ids[cut]`` whatever the order elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

SLICE_ROWS = 1_048_576  # events aggregated at once (about): a slice's columns and per-contact arrays


class _Stream:
    """One sorted stream's buffered batches (without null contact ids)."""

    def __init__(self, batches: Iterable[pa.RecordBatch]):
        self._batches = iter(batches)
        self.buffer: list[pa.RecordBatch] = []
        self.rows = 0
        self.done = False
        self._last: str | None = None  # the last contact pulled: the stream must not go below it

    def fill(self, rows: int) -> None:
        while not self.done and self.rows < rows:
            batch = next(self._batches, None)
            if batch is None:
                self.done = True
                break
            ids = batch.column(batch.schema.get_field_index("contact_id"))
            if ids.null_count:
                batch = batch.filter(pc.is_valid(ids))
                ids = batch.column(batch.schema.get_field_index("contact_id"))
            if not batch.num_rows:
                continue
            first = ids[0].as_py()
            if self._last is not None and first.encode() < self._last.encode():
                raise UnsortedStream("an event stream is not sorted by contact_id")
            self._last = ids[len(ids) - 1].as_py()
            self.buffer.append(batch)
            self.rows += batch.num_rows

    def last(self) -> str:
        batch = self.buffer[-1]
        ids = batch.column(batch.schema.get_field_index("contact_id"))
        return ids[len(ids) - 1].as_py()

    def take_below(self, bound: str | None) -> list[pa.RecordBatch]:
        """The buffered rows of contacts below ``bound`` (all of them for None), removed from the buffer."""
        taken: list[pa.RecordBatch] = []
        while self.buffer:
            batch = self.buffer[0]
            ids = batch.column(batch.schema.get_field_index("contact_id"))
            cut = len(ids) if bound is None else _first_at_least(ids, bound)
            if cut:
                taken.append(batch.slice(0, cut))
            if cut < len(ids):
                self.buffer[0] = batch.slice(cut)
                break
            self.buffer.pop(0)
        self.rows -= sum(b.num_rows for b in taken)
        return taken


def sorted_slices(streams: Iterable[Iterable[pa.RecordBatch]],
                  rows: int = SLICE_ROWS) -> Iterator[list[pa.RecordBatch]]:
    """The streams' rows as slices (lists of batches, each sorted by contact): every contact's rows are
    in exactly one slice, and the slices' contact ranges ascend."""
    opened = [_Stream(s) for s in streams]
    if not opened:
        return
    share = max(1, rows // len(opened))
    while True:
        for stream in opened:
            stream.fill(share)
        live = [s for s in opened if s.rows]
        if not live:
            return
        pending = [s for s in live if not s.done]
        bound = min(s.last() for s in pending) if pending else None
        pieces = [piece for s in live for piece in s.take_below(bound)]
        if pieces:
            yield pieces
            continue
        # every buffered row is of the bound's contact: read further into the streams that end on it
        for stream in pending:
            if stream.last() == bound:
                stream.fill(stream.rows + share)


def _first_at_least(ids: pa.Array, bound: str) -> int:
    """The first position in sorted ``ids`` holding ``bound`` or more (bytewise, as Arrow sorts)."""
    wanted = bound.encode()
    low, high = 0, len(ids)
    while low < high:
        mid = (low + high) // 2
        if ids[mid].as_py().encode() < wanted:
            low = mid + 1
        else:
            high = mid
    return low


class UnsortedStream(ValueError):
    """A stream handed to `sorted_slices` is not sorted by contact (found between batches here, inside
    a piece by the consumer)."""
