"""Reading the event log as a stream of record batches, with push-down.

A scan takes the log's manifest once and reads its compacted parts plus the incoming objects not yet
folded into them. What it is asked for decides what it reads:

- time (``since``/``until``): parts of months outside the window are never opened, row groups whose
  ``occurred_at`` statistics fall outside are skipped, and the remaining rows are filtered;
- contacts (``low``..``high``, a shard's id range, optionally only its base files' ``ranges``;
  ``contacts``, an exact set): parts and row groups
  are pruned by their sorted ``contact_id`` ranges;
- ``names``: rows of other events are dropped as each row group is read;
- ``columns``: only these column chunks are fetched (ranged GETs on large objects).

Memory holds one row group of the object being read (and the next few small objects, fetched ahead),
never the whole log. When compaction deletes an object this scan was about to read (it swapped the
manifest meanwhile), the scan raises ``LogChanged``: the caller starts over with a fresh manifest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from audience.columnar import EVENTS_SCHEMA
from audience.eventlog.layout import (
    LogManifest,
    incoming_prefix,
    list_keys,
    load_manifest,
    month_end,
    month_start,
)
from audience.ranged import RangedObject
from audience.settings import get_settings

_TS = EVENTS_SCHEMA.field("occurred_at").type
_EVENT_CODES = pa.field("event", pa.dictionary(pa.int32(), pa.string()), nullable=False)
RANGED_MIN_BYTES = 8 * 2**20  # larger objects are read by ranged GETs (footer, then the chunks needed)
READ_AHEAD = 8  # small objects fetched ahead of the one being read
ALL_COLUMNS = tuple(EVENTS_SCHEMA.names)
BATCH_ROWS = 131_072  # rows per streamed record batch (at most): memory per batch in flight
RESTARTS = 3  # times a reader starts over when compaction swapped the log under it
# A string column is read dictionary-encoded when its chunks take under this share of the bytes plain
# encoding would (a 4-byte length and the value): then (nearly) all its pages are dictionary-encoded and
# the reader hands over indices into a few distinct strings; otherwise it would hash every value.
DICTIONARY_SHARE = 0.5


class LogChanged(RuntimeError):
    """An object the scan's manifest named is gone: compaction replaced it. Scan again."""


@dataclass(frozen=True)
class EventQuery:
    """What a scan reads: every bound is optional; ``until`` and ``high`` are inclusive."""

    names: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    low: str | None = None
    high: str | None = None
    contacts: pa.Array | None = None
    also: pa.Array | None = None  # ids read besides the ``low``..``high`` range (a shard's delta contacts)
    # within ``low``..``high``, only these inclusive id ranges (a shard's base files, each sorted by contact)
    ranges: tuple[tuple[str, str], ...] | None = None
    columns: tuple[str, ...] = ALL_COLUMNS

    def narrowed(self, **changes) -> EventQuery:
        return replace(self, **changes)


@dataclass(frozen=True)
class _Object:
    key: str
    size: int
    low: str | None = None
    high: str | None = None


def scan(tenant_id: str, s3, query: EventQuery = EventQuery(), *, bucket: str | None = None,
         manifest: LogManifest | None = None) -> Iterator[pa.RecordBatch]:
    """The log's events matching ``query`` as record batches (``query.columns`` of EVENTS_SCHEMA)."""
    bucket = bucket or get_settings().data_bucket
    plan = _plan(tenant_id, s3, bucket, query, manifest)
    try:
        for parquet in _opened(s3, bucket, plan.objects):
            yield from plan.batches(parquet)
    except Exception as exc:
        if _gone(exc, s3):
            raise LogChanged(f"an object of the log was compacted away during the scan: {exc}") from exc
        raise


def sorted_streams(tenant_id: str, s3, query: EventQuery = EventQuery(), *, bucket: str | None = None,
                   manifest: LogManifest | None = None) -> list[Iterator[pa.RecordBatch]]:
    """The log's events matching ``query`` as one stream of record batches per object, each sorted by
    contact (every object is written sorted: appends and parts alike), for a reader that merges
    them by contact (``rules.activity_slices``). The objects are opened at once (footers; small
    objects whole, on a few threads); their row groups are read as each stream is pulled. The event
    name comes dictionary-encoded, and so do contact ids and property keys and values from an
    object that stores them so (`dictionary_columns`): the reader must take either form."""
    bucket = bucket or get_settings().data_bucket
    return _streams(s3, bucket, _plan(tenant_id, s3, bucket, query, manifest, dictionary_events=True),
                    maybe=("contact_id", "properties"))


def object_streams(s3, bucket: str, objects: Sequence[tuple[str, int]],
                   query: EventQuery = EventQuery()) -> list[Iterator[pa.RecordBatch]]:
    """`sorted_streams` of the given objects (``(key, size)``: compaction's inputs), EVENTS_SCHEMA types."""
    found = [_Object(key, size) for key, size in objects]
    columns = list(dict.fromkeys(["contact_id", "occurred_at", *query.columns]))
    plan = _Plan(found, _with_contact_bounds(query), columns,
                 pa.schema([EVENTS_SCHEMA.field(name) for name in columns]),
                 [name for name in EVENTS_SCHEMA.names if name in query.columns])
    return _streams(s3, bucket, plan, dictionary=None)


def _streams(s3, bucket: str, plan: _Plan, dictionary: list[str] | None = ("event",),
             maybe: Sequence[str] = ()) -> list[Iterator[pa.RecordBatch]]:
    """One stream per object of the plan; ``dictionary`` columns read dictionary-encoded, and the
    string columns under ``maybe`` too where an object stores them so (`dictionary_columns`)."""
    if not plan.objects:
        return []
    try:
        with ThreadPoolExecutor(max_workers=READ_AHEAD, thread_name_prefix="eventlog") as pool:
            opened = list(pool.map(lambda item: _open(s3, bucket, item, list(dictionary or []) or None, maybe),
                                   plan.objects))
    except Exception as exc:
        if _gone(exc, s3):
            raise LogChanged(f"an object of the log was compacted away before the scan: {exc}") from exc
        raise
    return [_guarded(plan.batches(parquet), s3) for parquet in opened]


def _guarded(batches: Iterator[pa.RecordBatch], s3) -> Iterator[pa.RecordBatch]:
    try:
        yield from batches
    except Exception as exc:
        if _gone(exc, s3):
            raise LogChanged(f"an object of the log was compacted away during the scan: {exc}") from exc
        raise


@dataclass(frozen=True)
class _Plan:
    """The objects a query reads and how each one's batches are read and filtered."""

    objects: list[_Object]
    query: EventQuery
    columns: list[str]
    schema: pa.Schema
    output: list[str]

    def batches(self, parquet: pq.ParquetFile) -> Iterator[pa.RecordBatch]:
        """The object's matching rows, row group by row group: rows are filtered only on the bounds a
        group's statistics do not already guarantee (a run's window usually covers whole groups)."""
        for group in range(parquet.metadata.num_row_groups):
            if not _group_wanted(parquet, group, self.query):
                continue
            query = _left_to_filter(parquet, group, self.query)
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=self.columns,
                                              use_threads=True):
                table = pa.Table.from_batches([batch])
                table = table if _same_types(table.schema, self.schema) else table.cast(self.schema)
                kept = _filtered(table, query)
                if kept.num_rows:
                    yield from kept.select(self.output).to_batches()


def _plan(tenant_id: str, s3, bucket: str, query: EventQuery, manifest: LogManifest | None, *,
          dictionary_events: bool = False) -> _Plan:
    """What to read; with ``dictionary_events`` the event column stays dictionary-encoded as stored
    (a handful of names: far cheaper to decode and to match than strings)."""
    manifest = manifest or load_manifest(tenant_id, s3, bucket)
    query = _with_contact_bounds(query)
    objects = [_Object(p.key, p.bytes, p.min_contact, p.max_contact) for p in manifest.parts
               if _month_wanted(p.month, query) and _overlaps(p.min_contact, p.max_contact, query)]
    objects += [_Object(item["Key"], item["Size"]) for item in list_keys(s3, bucket, incoming_prefix(tenant_id))
                if item["Key"].endswith(".parquet") and item["Key"] not in manifest.merged]
    columns = list(dict.fromkeys(["contact_id", "occurred_at", *query.columns, *(["event"] if query.names else [])]))
    schema = pa.schema([_EVENT_CODES if name == "event" and dictionary_events else EVENTS_SCHEMA.field(name)
                        for name in columns])
    output = [name for name in EVENTS_SCHEMA.names if name in query.columns]
    return _Plan(objects, query, columns, schema, output)


def read_events(tenant_id: str, s3, since: datetime | None = None, bucket: str | None = None,
                query: EventQuery | None = None) -> pa.Table:
    """The matching events as one table (EVENTS_SCHEMA): for small reads (tests, one contact's events);
    evaluation streams `scan` instead."""
    query = (query or EventQuery()).narrowed(since=since) if since is not None else (query or EventQuery())
    for attempt in range(RESTARTS):
        try:
            batches = list(scan(tenant_id, s3, query, bucket=bucket))
            break
        except LogChanged:
            if attempt == RESTARTS - 1:
                raise
    schema = pa.schema([EVENTS_SCHEMA.field(n) for n in EVENTS_SCHEMA.names if n in query.columns])
    if not batches:
        return schema.empty_table()
    return pa.concat_tables([pa.Table.from_batches([batch]).cast(schema) for batch in batches])


def _same_types(found: pa.Schema, wanted: pa.Schema) -> bool:
    """Whether a batch needs no cast (nullability, a map's entry names and dictionary-encoded strings —
    read so on purpose, `dictionary_columns` — aside)."""
    if found.names != wanted.names:
        return False
    return all(_loosely(have) == _loosely(want) for have, want in zip(found.types, wanted.types, strict=True))


def _loosely(kind: pa.DataType) -> tuple:
    if pa.types.is_map(kind):
        return "map", _decoded(kind.key_type), _decoded(kind.item_type)
    return (_decoded(kind),)


def _decoded(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def _with_contact_bounds(query: EventQuery) -> EventQuery:
    """An exact contact set also bounds the range, so row groups outside it are pruned."""
    if query.contacts is None or not len(query.contacts):
        return query
    bounds = pc.min_max(query.contacts)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return query.narrowed(low=max(low, query.low) if query.low else low,
                          high=min(high, query.high) if query.high else high)


def _month_wanted(month: str, query: EventQuery) -> bool:
    if query.since is not None and month_end(month) <= query.since:
        return False
    return not (query.until is not None and month_start(month) > query.until)


def _overlaps(low: str | None, high: str | None, query: EventQuery) -> bool:
    if query.also is not None and len(query.also):
        bounds = pc.min_max(query.also)
        extra = EventQuery(low=bounds["min"].as_py(), high=bounds["max"].as_py())
        if _overlaps(low, high, extra):
            return True
    return _in_range(low, high, query)


def _in_range(low: str | None, high: str | None, query: EventQuery) -> bool:
    if query.low is not None and high is not None and high < query.low:
        return False
    if query.high is not None and low is not None and low > query.high:
        return False
    return query.ranges is None or any(not ((high is not None and high < first) or (low is not None and low > last))
                                       for first, last in query.ranges)


def _group_wanted(parquet: pq.ParquetFile, group: int, query: EventQuery) -> bool:
    """Whether a row group's statistics leave room for a matching row."""
    meta = parquet.metadata.row_group(group)
    names = parquet.schema_arrow.names
    contact = _stats(meta, names, "contact_id")
    if contact and not _overlaps(contact[0], contact[1], query):
        return False
    occurred = _stats(meta, names, "occurred_at")
    if occurred:
        low, high = (_utc(v) for v in occurred)
        if query.since is not None and high < query.since:
            return False
        if query.until is not None and low > query.until:
            return False
    return True


def _left_to_filter(parquet: pq.ParquetFile, group: int, query: EventQuery) -> EventQuery:
    """``query`` without the time and contact-range bounds the group's statistics show every row meets."""
    meta = parquet.metadata.row_group(group)
    names = parquet.schema_arrow.names
    occurred = _stats(meta, names, "occurred_at")
    if occurred:
        low, high = (_utc(v) for v in occurred)
        if query.since is not None and low >= query.since:
            query = query.narrowed(since=None)
        if query.until is not None and high <= query.until:
            query = query.narrowed(until=None)
    contact = _stats(meta, names, "contact_id")
    if contact and query.contacts is None and (query.low is not None or query.high is not None) \
            and (query.low is None or contact[0] >= query.low) and (query.high is None or contact[1] <= query.high) \
            and (query.ranges is None or any(first <= contact[0] and contact[1] <= last
                                             for first, last in query.ranges)):
        query = query.narrowed(low=None, high=None, also=None, ranges=None)
    return query


def _stats(meta, names: Sequence[str], column: str):
    if column not in names:
        return None
    stats = meta.column(names.index(column)).statistics
    if stats is None or not stats.has_min_max:
        return None
    return stats.min, stats.max


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _filtered(table: pa.Table, query: EventQuery) -> pa.Table:
    keep = []
    if query.names is not None:
        keep.append(pc.is_in(table["event"], value_set=pa.array(sorted(query.names), pa.string())))
    if query.since is not None:
        keep.append(pc.greater_equal(table["occurred_at"], pa.scalar(query.since, _TS)))
    if query.until is not None:
        keep.append(pc.less_equal(table["occurred_at"], pa.scalar(query.until, _TS)))
    if query.contacts is not None:
        keep.append(_per_id(table["contact_id"], lambda ids: pc.is_in(ids, value_set=query.contacts)))
    elif query.low is not None or query.high is not None or query.ranges is not None:
        keep.append(_per_id(table["contact_id"], lambda ids: _in_shard(ids, query)))
    if not keep:
        return table
    mask = keep[0]
    for more in keep[1:]:
        mask = pc.and_(mask, more)
    mask = pc.fill_null(mask, False)
    if pc.sum(mask).as_py() == table.num_rows:
        return table  # every row kept (the usual case for a run): no copy of the columns
    return table.filter(mask)


def _per_id(ids: pa.ChunkedArray, decide) -> pa.Array:
    """``decide(ids)``; for dictionary-encoded ids decided once per distinct id and spread by index."""
    ids = ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)
    if pa.types.is_dictionary(ids.type):
        return decide(ids.dictionary).take(ids.indices)
    return decide(ids)


def _in_shard(ids: pa.Array, query: EventQuery) -> pa.Array:
    """Whether each id is in the query's ``low``..``high`` range (and one of its ``ranges``) or ``also``."""
    inside = None
    if query.low is not None:
        inside = pc.greater_equal(ids, pa.scalar(query.low, pa.string()))
    if query.high is not None:
        below = pc.less_equal(ids, pa.scalar(query.high, pa.string()))
        inside = below if inside is None else pc.and_(inside, below)
    if query.ranges is not None:
        within = None
        for first, last in query.ranges:
            one = pc.and_(pc.greater_equal(ids, pa.scalar(first, pa.string())),
                          pc.less_equal(ids, pa.scalar(last, pa.string())))
            within = one if within is None else pc.or_(within, one)
        within = within if within is not None else pa.scalar(False)
        inside = within if inside is None else pc.and_(inside, within)
    if query.also is not None and len(query.also):
        inside = pc.or_(pc.fill_null(inside, False), pc.is_in(ids, value_set=query.also))
    return inside


def _gone(exc: BaseException, s3) -> bool:
    """Whether ``exc`` (or what caused it) says an object does not exist."""
    while exc is not None:
        missing = getattr(s3.exceptions, "NoSuchKey", None)
        if missing is not None and isinstance(exc, missing):
            return True
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
        if code in ("404", "NoSuchKey", "NotFound"):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _opened(s3, bucket: str, objects: list[_Object]) -> Iterator[pq.ParquetFile]:
    """Each object as a ParquetFile, in order: small ones fetched whole, a few ahead on threads;
    large ones through ranged GETs."""
    def open_one(item: _Object) -> pq.ParquetFile:
        return _open(s3, bucket, item)

    if not objects:
        return
    with ThreadPoolExecutor(max_workers=READ_AHEAD, thread_name_prefix="eventlog") as pool:
        pending: deque = deque()
        queue = iter(objects)
        for item in queue:
            pending.append(pool.submit(open_one, item))
            if len(pending) >= READ_AHEAD:
                break
        while pending:
            opened = pending.popleft().result()
            following = next(queue, None)
            if following is not None:
                pending.append(pool.submit(open_one, following))
            yield opened


def _open(s3, bucket: str, item: _Object, dictionary: list[str] | None = None,
          maybe: Sequence[str] = ()) -> pq.ParquetFile:
    """An object as a ParquetFile: small ones fetched whole, large ones through ranged GETs — a row
    group's column chunks in one coalesced GET (``pre_buffer``), not one per column. The
    ``dictionary`` columns are read dictionary-encoded, and those under ``maybe`` that the object
    stores dictionary-encoded (`dictionary_columns`: its footer decides, read once)."""
    ranged = item.size >= RANGED_MIN_BYTES
    if ranged:
        source = RangedObject(s3, bucket, item.key, item.size)
    else:
        source = pa.BufferReader(s3.get_object(Bucket=bucket, Key=item.key)["Body"].read())
    if not maybe:
        return pq.ParquetFile(source, read_dictionary=dictionary, pre_buffer=ranged)
    metadata = pq.read_metadata(source)
    return pq.ParquetFile(source, metadata=metadata, pre_buffer=ranged,
                          read_dictionary=[*(dictionary or []), *dictionary_columns(metadata, maybe)] or None)


def dictionary_columns(metadata: pq.FileMetaData, under: Sequence[str]) -> list[str]:
    """The string columns ``under`` (a column, or a map's keys and values) stored dictionary-encoded:
    with a dictionary page in every row group and, all row groups together, under `DICTIONARY_SHARE`
    of the bytes plain encoding would take (each chunk's shortest value, from its statistics, counted)
    — so reading them as dictionaries costs less than as strings. A reader's choice only: both read
    the same values."""
    found = []
    schema = metadata.schema
    groups = [metadata.row_group(group) for group in range(metadata.num_row_groups)]
    for column in range(metadata.num_columns):
        path = schema.column(column).path
        if schema.column(column).physical_type != "BYTE_ARRAY" or not any(
                path == prefix or path.startswith(prefix + ".") for prefix in under):
            continue
        chunks = [group.column(column) for group in groups]
        if not chunks or not all(chunk.has_dictionary_page for chunk in chunks):
            continue
        stored = sum(chunk.total_uncompressed_size for chunk in chunks)
        if stored < DICTIONARY_SHARE * sum(chunk.num_values * (4 + _shortest(chunk)) for chunk in chunks):
            found.append(path)
    return found


def _shortest(chunk) -> int:
    stats = chunk.statistics
    return min(len(stats.min), len(stats.max)) if stats is not None and stats.has_min_max else 0
