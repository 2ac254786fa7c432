"""The event log as an evaluation's event source: what the rules want (names, window, columns,
from ``rules.vectorised.EventsWanted``) pushed down into a `scan`, restricted to a shard's contacts.

The evaluator folds the streams (one per object, each sorted by contact) into per-contact aggregates
(`SegmentEvaluator`); when compaction swaps the log under the read (``LogChanged``), the fold starts
over on the new manifest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa

from audience.eventlog.reading import RESTARTS, EventQuery, LogChanged, sorted_streams

T = TypeVar("T")


@dataclass
class LogEvents:
    """One tenant's log, optionally only contacts ``low``..``high`` (plus the ``also`` ids): a shard's."""

    tenant_id: str
    s3: Any
    bucket: str
    low: str | None = None
    high: str | None = None
    also: pa.Array | None = None
    contacts: pa.Array | None = None  # exactly these contacts (a shard of only the delta)
    ranges: tuple[tuple[str, str], ...] | None = None  # within low..high, only these id ranges (base files')
    batches_read: int = field(default=0, compare=False)  # record batches handed to the fold (all attempts)
    largest_batch: int = field(default=0, compare=False)  # rows of the largest one

    def for_contacts(self, low: str | None, high: str | None, also: pa.Array | None = None,
                     contacts: pa.Array | None = None, ranges: tuple[tuple[str, str], ...] | None = None) -> LogEvents:
        return LogEvents(self.tenant_id, self.s3, self.bucket, low, high, also, contacts, ranges)

    def query(self, wanted) -> EventQuery:
        # names select no row groups (no statistics): the fold skips other names itself, cheaper than a filter
        return EventQuery(names=None, since=wanted.since, until=wanted.until, low=self.low, high=self.high,
                          also=self.also, contacts=self.contacts, ranges=self.ranges, columns=tuple(wanted.columns))

    def fold(self, wanted, consume: Callable[[list[Iterable[pa.RecordBatch]]], T]) -> T:
        """``consume(streams)``: the wanted events as one stream of batches per object, each sorted by
        contact (`reading.sorted_streams`); started over when compaction changed the log meanwhile."""
        for attempt in range(RESTARTS):
            try:
                streams = sorted_streams(self.tenant_id, self.s3, self.query(wanted), bucket=self.bucket)
                return consume([self._counted(stream) for stream in streams])
            except LogChanged:
                if attempt == RESTARTS - 1:
                    raise
        raise LogChanged("unreachable")  # the loop returns or raises

    def _counted(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.batches_read += 1
            self.largest_batch = max(self.largest_batch, batch.num_rows)
            yield batch
