"""Compaction: folding appended batches into few, large, sorted parts, and dropping expired months.

Per month of ``occurred_at``, the month's small parts (under half of PART_BYTES) and the new batches'
events of that month are merged, sorted by contact then time, and cut into parts of about PART_BYTES;
large parts are never rewritten (a month may hold several, each sorted, so readers still prune row
groups by contact range). Months that ended before the retention cut-off are dropped whole.

Order, so that a crash anywhere or a race with appends or another compaction loses nothing:

1. read the manifest (and its ETag) and list ``incoming/``: batches the manifest does not name as
   merged are new; appends landing after the listing are simply left for the next compaction;
2. write the new parts under fresh keys (nothing points at them yet);
3. swap the manifest with a conditional PUT (``If-Match`` the ETag read in 1, ``If-None-Match: *``
   for the first): a concurrent compaction that won makes this one delete its new parts and stop;
4. only then delete what the new manifest no longer names: merged batches, replaced and expired
   parts. A crash before 4 leaves objects no reader uses (merged batches are skipped by name) that
   the next compaction deletes; part objects named by no manifest are deleted once older than GRACE.

Readers that meet an object deleted in 4 start over with the new manifest (``reading.LogChanged``).
Merged batch keys are remembered for MERGED_MEMORY, so a batch delivered again is not counted twice.
"""

from __future__ import annotations

import io
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from audience.columnar import EVENTS_SCHEMA
from audience.eventlog.append import ROW_GROUP_ROWS, SORT_KEYS
from audience.eventlog.layout import (
    LogManifest,
    Part,
    incoming_prefix,
    list_keys,
    load_manifest,
    manifest_key,
    month_end,
    month_start,
    parts_prefix,
)
from audience.eventlog.reading import EventQuery, object_streams
from audience.rules.activity_slices import UnsortedStream, sorted_slices
from audience.settings import get_settings
from audience.storage import eventlog_repo

PART_BYTES = 128 * 2**20  # target size of a compacted part (64-256 MB: few objects, ranged reads)
MERGE_ROWS = 524_288  # events merged, sorted and written at once: compaction's memory, whatever a month holds
GRACE = timedelta(minutes=30)  # unnamed part objects younger than this may be a compaction's in progress
MERGED_MEMORY = timedelta(days=14)  # SQS keeps a message at most 14 days: redeliveries come sooner
DEFAULT_RETENTION_DAYS = eventlog_repo.DEFAULT_RETENTION_DAYS


class CompactionConflict(RuntimeError):
    """Another compaction swapped the manifest first; this one's work was discarded."""


@dataclass
class CompactionResult:
    merged_batches: int = 0
    events_merged: int = 0
    parts_written: list[str] = field(default_factory=list)
    parts_dropped: list[str] = field(default_factory=list)  # replaced or expired
    deleted: int = 0
    changed: bool = False


def retention_cutoff(now: datetime, retention_days: int) -> datetime:
    return now.astimezone(UTC) - timedelta(days=retention_days)


def compact(tenant_id: str, s3, *, bucket: str | None = None, now: datetime | None = None,
            retention_days: int = DEFAULT_RETENTION_DAYS, part_bytes: int = PART_BYTES) -> CompactionResult:
    """Compact the tenant's log once (idempotent: with nothing new and nothing expired it writes nothing)."""
    bucket = bucket or get_settings().data_bucket
    now = (now or datetime.now(UTC)).astimezone(UTC)
    cutoff = retention_cutoff(now, retention_days)
    manifest = load_manifest(tenant_id, s3, bucket)
    listed = [item for item in list_keys(s3, bucket, incoming_prefix(tenant_id)) if item["Key"].endswith(".parquet")]
    fresh = [item["Key"] for item in listed if item["Key"] not in manifest.merged]
    stale = [item["Key"] for item in listed if item["Key"] in manifest.merged]
    expired = [p for p in manifest.parts if month_end(p.month) <= cutoff]
    result = CompactionResult(merged_batches=len(fresh))

    sizes = {item["Key"]: item["Size"] for item in listed}
    months = _months_of(s3, bucket, fresh, cutoff)
    result.events_merged = sum(months.values())
    generation = manifest.generation + 1
    kept = [p for p in manifest.parts if p not in expired]
    written: list[Part] = []
    replaced: list[Part] = []
    for month in sorted(months):
        small = [p for p in kept if p.month == month and p.bytes < part_bytes // 2]
        inputs = [(p.key, p.bytes) for p in small] + [(key, sizes[key]) for key in fresh]
        window = EventQuery(since=month_start(month), until=month_end(month) - timedelta(microseconds=1))
        written += _write_month(tenant_id, s3, bucket, month, object_streams(s3, bucket, inputs, window),
                                generation, part_bytes)
        replaced += small
    if fresh or expired or _forgettable(manifest, now):
        swapped = LogManifest(
            tenant_id,
            generation=generation,
            updated_at=now.isoformat(),
            parts=[p for p in kept if p not in replaced] + written,
            merged={key: at for key, at in manifest.merged.items() if datetime.fromisoformat(at) > now - MERGED_MEMORY}
            | dict.fromkeys(fresh, now.isoformat()),
        )
        try:
            _swap(s3, bucket, manifest, swapped)
        except CompactionConflict:
            _delete(s3, bucket, [p.key for p in written])
            raise
        result.changed = True
        manifest = swapped
    result.parts_written = [p.key for p in written]
    result.parts_dropped = [p.key for p in replaced + expired]
    result.deleted = _delete(s3, bucket, fresh + stale + result.parts_dropped + _orphans(s3, bucket, manifest))
    return result


def _months_of(s3, bucket: str, keys: list[str], cutoff: datetime) -> dict[str, int]:
    """Events per month of ``occurred_at`` in the new batches (months past retention left out): only
    their time column is read."""
    found: dict[str, int] = defaultdict(int)
    for key in keys:
        times = pq.read_table(pa.BufferReader(s3.get_object(Bucket=bucket, Key=key)["Body"].read()),
                              columns=["occurred_at"])["occurred_at"]
        months = pc.value_counts(pc.strftime(times, format="%Y-%m"))
        for month, count in zip(months.field("values").to_pylist(), months.field("counts").to_pylist(), strict=True):
            if month_end(month) > cutoff:
                found[month] += count
    return found


def _write_month(tenant_id: str, s3, bucket: str, month: str, streams: list[Iterable[pa.RecordBatch]],
                 generation: int, part_bytes: int) -> list[Part]:
    """The month's events, merged from sorted streams slice by slice (`sorted_slices`: disjoint contact
    ranges, each sorted by contact then time), written into parts cut at about ``part_bytes`` between
    slices — so a contact's events of a month live in one part, and memory holds one slice plus the
    part being written, whatever the month's size. Each slice is sorted here, so an input out of
    order is harmless unless it puts a contact in two slices: that is refused (`UnsortedStream`)."""
    token = secrets.token_hex(4)
    parts: list[Part] = []
    writer: _PartWriter | None = None
    last: str | None = None
    for pieces in sorted_slices(streams, MERGE_ROWS):
        table = pa.Table.from_batches(pieces).cast(EVENTS_SCHEMA).sort_by(SORT_KEYS)
        ids = table.column("contact_id")
        if last is not None and ids[0].as_py() <= last:  # an unsorted input split a contact's events
            raise UnsortedStream(f"an event object of {month} is not sorted by contact_id")
        last = ids[len(ids) - 1].as_py()
        if writer is None:
            key = f"{parts_prefix(tenant_id)}{month}/{generation:08d}-{token}-{len(parts):04d}.parquet"
            writer = _PartWriter(key, month)
        writer.write(table)
        if writer.bytes() >= part_bytes:
            parts.append(writer.finish(s3, bucket))
            writer = None
    if writer is not None:
        parts.append(writer.finish(s3, bucket))
    return parts


class _PartWriter:
    """One part being written: sorted slices appended as row groups, put to S3 when finished."""

    def __init__(self, key: str, month: str):
        self.key, self.month = key, month
        self.sink = io.BytesIO()
        self.writer = pq.ParquetWriter(self.sink, EVENTS_SCHEMA, compression="zstd", write_statistics=True)
        self.rows = 0
        self.first: str | None = None
        self.last: str | None = None

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        ids = table.column("contact_id")
        self.first = self.first if self.first is not None else ids[0].as_py()
        self.last = ids[len(ids) - 1].as_py()
        self.rows += table.num_rows

    def bytes(self) -> int:
        return self.sink.tell()

    def finish(self, s3, bucket: str) -> Part:
        self.writer.close()
        body = self.sink.getvalue()
        s3.put_object(Bucket=bucket, Key=self.key, Body=body)
        return Part(self.key, self.month, self.rows, len(body), self.first or "", self.last or "")


def write_parts(tenant_id: str, s3, table: pa.Table, *, bucket: str | None = None,
                part_bytes: int = PART_BYTES) -> list[Part]:
    """A large load written straight as compacted parts of a new manifest (bulk backfills, the bench):
    the same layout compaction produces, without staging every event as a batch first."""
    bucket = bucket or get_settings().data_bucket
    manifest = load_manifest(tenant_id, s3, bucket)
    months = pc.strftime(table["occurred_at"], format="%Y-%m")
    written: list[Part] = []
    for month in sorted(pc.unique(months).to_pylist()):
        rows = table.filter(pc.equal(months, month)).sort_by(SORT_KEYS)
        written += _write_month(tenant_id, s3, bucket, month, [rows.to_batches(max_chunksize=ROW_GROUP_ROWS)],
                                manifest.generation + 1, part_bytes)
    swapped = LogManifest(tenant_id, generation=manifest.generation + 1, updated_at=datetime.now(UTC).isoformat(),
                          parts=manifest.parts + written, merged=manifest.merged)
    _swap(s3, bucket, manifest, swapped)
    return written


def _forgettable(manifest: LogManifest, now: datetime) -> bool:
    return any(datetime.fromisoformat(at) <= now - MERGED_MEMORY for at in manifest.merged.values())


def _swap(s3, bucket: str, read: LogManifest, new: LogManifest) -> None:
    condition = {"IfMatch": read.etag} if read.etag else {"IfNoneMatch": "*"}
    try:
        s3.put_object(Bucket=bucket, Key=manifest_key(read.tenant_id), Body=new.to_json(),
                      ContentType="application/json", **condition)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise CompactionConflict(f"the event log of {read.tenant_id!r} was compacted concurrently") from exc
        raise


def _orphans(s3, bucket: str, manifest: LogManifest) -> list[str]:
    """Part objects no manifest names, old enough not to be a running compaction's output (by the
    wall clock, as S3 stamps objects: ``now`` of a run may be another day)."""
    named = {p.key for p in manifest.parts}
    now = datetime.now(UTC)
    return [item["Key"] for item in list_keys(s3, bucket, parts_prefix(manifest.tenant_id))
            if item["Key"] not in named and item["LastModified"] < now - GRACE]


def _delete(s3, bucket: str, keys: list[str]) -> int:
    keys = list(dict.fromkeys(keys))
    for first in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[first:first + 1000]],
                                                 "Quiet": True})
    return len(keys)
