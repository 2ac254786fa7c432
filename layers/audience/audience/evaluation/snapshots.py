"""Immutable Parquet snapshots of a tenant's contacts, so evaluation never reads DynamoDB.

Layout (DATA_BUCKET, docs/architecture.md)::

    tenants/{t}/snapshots/{snapshot_id}/manifest.json
    tenants/{t}/snapshots/{snapshot_id}/contacts-{n}.parquet   base files (written by a full build or a compaction)
    tenants/{t}/snapshots/{snapshot_id}/delta.parquet          contacts changed or erased since the base
    tenants/{t}/snapshots/LATEST                               {"snapshot_id"}: the newest complete snapshot

A snapshot is its manifest: base files (which may live in an older snapshot's folder — objects are
never rewritten), at most one delta file and the watermark
(newest ``updated_at`` seen). The next snapshot reads only the contacts changed since the watermark
(GSI ``by_updated``, never a scan), merges them into a new delta (newest version of each contact
wins, erased contacts kept as tombstone rows), and compacts into fresh base files once the delta
grows past a share of the base. ``build_snapshot(full=True)`` rebuilds from the contacts partition
for repair. Readers stream record batches: memory holds one base file and the delta, never the
whole snapshot.

Contact keys: every contact gets a dense integer (``contact_key``, uint32) when it first enters the
tenant's snapshots, stored beside ``contact_id`` in base files and the delta and kept by every
incremental snapshot and compaction, so a run's memberships can be integer sets. Erased contacts
leave holes: a key is never given to another contact within a key space (``Manifest.key_space``).
Only ``build_snapshot(full=True)`` numbers the contacts afresh (a new key space, holes closed); a
rewrite forced by a catalog change keeps the key space and every key. Every key given is also
recorded in the key space's directory (``key_directory``: key -> id, never pruned), so a run's state
can keep its members as keys only and still be named after they are erased or renumbered.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from audience.columnar import contacts_schema
from audience.evaluation import key_directory
from audience.fields import FieldCatalog, FieldType
from audience.ranged import RangedObject
from audience.rules.record import normalise
from audience.settings import get_settings
from audience.storage import contacts_repo, fields_repo
from audience.storage.attributes import document_from_raw
from audience.storage.models import ContactItem
from audience.storage.records import Contact

ROWS_PER_FILE = 200_000  # contacts per base file: one file is the unit of memory and of sharding
# Rows per base file row group and per streamed record batch. Each batch's masks cost a fixed ~7 ms
# for 50 segments (kernel calls and Python per leaf) beside the per-row work, so a 200,000-contact
# file read as 131,072 + 68,928 rows pays it twice instead of four times (65,536 x 3 + 3,392);
# the rows in flight stay a few batches per evaluation thread, slices of the file already read.
BATCH_ROWS = 131_072
COMPACT_SHARE = 0.2  # compact when the delta holds more than this share of the base ...
COMPACT_MIN_ROWS = 20_000  # ... and at least this many rows
WATERMARK_OVERLAP = timedelta(minutes=5)  # re-read recent changes: writes may commit out of stamp order
ERASED = "_erased"
DICTIONARY_SHARE = 0.05  # string columns with at most this share of distinct values are read dictionary-encoded
RANGED_MIN_BYTES = 4 * 2**20  # smaller files are fetched whole: one GET beats a footer GET plus column GETs
KEEP_SNAPSHOTS = 3  # newest snapshots kept whole; older ones keep only the files these still list
KEY = "contact_key"  # the contact's integer key (module docstring)
KEY_TYPE = pa.uint32()


@dataclass
class Manifest:
    snapshot_id: str
    tenant_id: str
    created_at: str
    watermark: str | None
    fields: dict[str, str]
    files: list[dict[str, Any]] = field(default_factory=list)  # [{"key", "rows"}]
    delta: dict[str, Any] | None = None  # {"key", "rows"}
    events: list[str] = field(default_factory=list)  # unused: activity is read from the event log's own manifest
    contact_count: int = 0
    key_space: str | None = None  # id of the build that numbered the keys (None: written before keys)
    next_key: int = 0  # the key the next new contact gets
    key_directory: bool = False  # every key of key_space is in its directory (``key_directory``)

    @property
    def base_rows(self) -> int:
        return sum(int(f["rows"]) for f in self.files)

    def catalog(self) -> FieldCatalog:
        from audience.fields import BUILTIN_FIELDS

        return FieldCatalog({name: FieldType(t) for name, t in self.fields.items() if name not in BUILTIN_FIELDS})


def snapshots_prefix(tenant: str) -> str:
    return f"tenants/{tenant}/snapshots/"


def new_snapshot_id(now: datetime) -> str:
    """Sortable by creation time, unique across concurrent writers."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


def latest_manifest(tenant: str, s3, bucket: str | None = None) -> Manifest | None:
    bucket = bucket or get_settings().data_bucket
    try:
        pointer = json.loads(s3.get_object(Bucket=bucket, Key=snapshots_prefix(tenant) + "LATEST")["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None
    return read_manifest(tenant, pointer["snapshot_id"], s3, bucket)


def read_manifest(tenant: str, snapshot_id: str, s3, bucket: str | None = None) -> Manifest:
    bucket = bucket or get_settings().data_bucket
    key = f"{snapshots_prefix(tenant)}{snapshot_id}/manifest.json"
    return Manifest(**json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def build_snapshot(
    tenant: str,
    s3,
    *,
    full: bool = False,
    now: datetime | None = None,
    bucket: str | None = None,
    catalog: FieldCatalog | None = None,
) -> Manifest:
    """Write a new snapshot of the tenant (incremental from the newest one unless ``full``)."""
    bucket = bucket or get_settings().data_bucket
    now = now or datetime.now(UTC)
    catalog = catalog or fields_repo.catalog(tenant)
    schema = contacts_schema(catalog)
    previous = None if full else latest_manifest(tenant, s3, bucket)
    snapshot_id = new_snapshot_id(now)
    folder = f"{snapshots_prefix(tenant)}{snapshot_id}/"
    manifest = Manifest(
        snapshot_id=snapshot_id,
        tenant_id=tenant,
        created_at=now.isoformat(),
        watermark=None,
        fields={name: FieldType(t).value for name, t in catalog.fields.items()},
    )
    if previous is not None and previous.key_space is None:
        previous = None  # written before contact keys: number them once
    if previous is not None and not previous.key_directory:
        # a key space numbered before the directory: its every key (live contacts and the delta's
        # erased ones) recorded once, from this snapshot, which holds each key a state can hold
        _record_all_keys(tenant, previous, s3, bucket)
        previous.key_directory = True
    carried = None
    if previous is not None and previous.fields != manifest.fields:
        # the catalog changed: base files lack (or mistype) a field stored values may use; rewritten
        # whole, but every contact keeps its key
        carried = _live_keys(previous, s3, bucket)
        manifest.key_space, manifest.next_key = previous.key_space, previous.next_key
        previous = None
    if previous is None:
        manifest.key_space = manifest.key_space or snapshot_id
        manifest.key_directory = True  # a new key space's keys are recorded as given (``_full_build``)
        manifest.watermark = _full_build(tenant, s3, bucket, folder, schema, catalog, manifest, carried)
    else:
        _incremental(tenant, s3, bucket, folder, schema, catalog, previous, manifest)
    manifest.contact_count = _count(manifest, s3, bucket)
    _put(s3, bucket, folder + "manifest.json", json.dumps(asdict(manifest)).encode())
    _put(s3, bucket, snapshots_prefix(tenant) + "LATEST", json.dumps({"snapshot_id": snapshot_id}).encode())
    prune(tenant, s3, bucket=bucket)
    return manifest


def prune(tenant: str, s3, *, bucket: str | None = None, keep: int | None = None) -> list[str]:
    """Delete the objects of snapshots older than the ``keep`` newest, except files a kept manifest
    still lists (base files are shared with later snapshots). Readers of an older snapshot (a preview,
    a fanned-out run's shards) have ``keep`` snapshot periods to finish. Returns the deleted keys."""
    bucket = bucket or get_settings().data_bucket
    keep = KEEP_SNAPSHOTS if keep is None else keep
    prefix = snapshots_prefix(tenant)
    folders: set[str] = set()
    objects: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            rest = item["Key"][len(prefix):]
            if "/" in rest:
                folders.add(rest.split("/", 1)[0])
                objects.append(item["Key"])
    ordered = sorted(folders)
    kept = ordered[-keep:] if keep > 0 else []
    referenced: set[str] = set()
    for snapshot_id in kept:
        try:
            manifest = read_manifest(tenant, snapshot_id, s3, bucket)
        except s3.exceptions.NoSuchKey:  # being written right now: keep its folder whole
            referenced |= {key for key in objects if key.startswith(f"{prefix}{snapshot_id}/")}
            continue
        referenced |= {f["key"] for f in manifest.files} | ({manifest.delta["key"]} if manifest.delta else set())
        referenced.add(f"{prefix}{snapshot_id}/manifest.json")
    doomed = [key for key in objects if key.split("/")[len(prefix.split("/")) - 1] not in kept
              and key not in referenced]
    for first in range(0, len(doomed), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in doomed[first:first + 1000]],
                                                 "Quiet": True})
    return doomed


# -- reading -----------------------------------------------------------------------------------------


def iter_batches(
    manifest: Manifest,
    s3,
    catalog: FieldCatalog,
    *,
    bucket: str | None = None,
    files: Sequence[str] | None = None,
    include_delta: bool = True,
    columns: Sequence[str] | None = None,
    dictionary: bool = False,
    keys: bool = False,
) -> Iterator[pa.RecordBatch]:
    """The snapshot's live contacts as record batches of ``contacts_schema(catalog)`` (or the named
    ``columns``, ``contact_id`` always first). ``files``/``include_delta`` select a shard: base files
    yield only contacts the delta does not replace; the delta yields its live contacts. ``keys``:
    each batch ends with the ``contact_key`` column.

    ``dictionary``: the string columns a base file lists as low-cardinality (``_write_base``) come
    dictionary-encoded (``dictionary<int32, string>`` in place of ``string``), as Parquet stores them:
    no decoding of repeated values, and the rule engine decides each distinct value once."""
    bucket = bucket or get_settings().data_bucket
    schema = _projected(contacts_schema(catalog), columns)
    if keys:
        schema = schema.append(pa.field(KEY, KEY_TYPE))
    delta = _read_delta(manifest, s3, bucket)
    replaced = delta.column("contact_id") if delta is not None else None
    entries = [entry for entry in manifest.files if files is None or entry["key"] in files]
    wanted = None if columns is None else schema.names
    for table in _read_ahead(s3, bucket, entries, wanted, dictionary):
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            if replaced is not None and len(replaced):
                batch = batch.filter(pc.invert(pc.is_in(batch.column("contact_id"), value_set=replaced)))
            if batch.num_rows:
                yield conform(batch, schema, keep_dictionary=dictionary)
        del table
    if include_delta and delta is not None:
        live = delta.filter(pc.invert(pc.fill_null(delta.column(ERASED), False)))
        for batch in live.to_batches(max_chunksize=BATCH_ROWS):
            if batch.num_rows:
                yield conform(batch, schema)


def _read_ahead(s3, bucket: str, entries: Sequence[dict[str, Any]],
                columns: Sequence[str] | None, dictionary: bool = False) -> Iterator[pa.Table]:
    """The base files' ``columns`` (None: all) in order, the next file being read while the caller
    works on the current one: at most two files' columns (≤ 2 x ``ROWS_PER_FILE`` contacts) in memory."""
    if not entries:
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(read_columns, s3, bucket, entries[0], columns, dictionary)
        for following in [*entries[1:], None]:
            table = pending.result()
            pending = (pool.submit(read_columns, s3, bucket, following, columns, dictionary)
                       if following is not None else None)
            yield table
            del table


def read_columns(s3, bucket: str, entry: dict[str, Any], columns: Sequence[str] | None,
                 dictionary: bool = False) -> pa.Table:
    """One base file's ``columns`` (those it has; None: all), its low-cardinality strings
    dictionary-encoded when ``dictionary``. Only the needed column chunks are fetched, with ranged
    GETs (``RangedObject``), when the file has more columns than asked for."""
    size = entry.get("bytes")
    encoded = [name for name in entry.get("dictionary", []) if columns is None or name in columns] if dictionary else []
    if columns is None or (size is not None and size < RANGED_MIN_BYTES):
        return pq.read_table(pa.BufferReader(_get(s3, bucket, entry["key"])), columns=columns,
                             read_dictionary=encoded or None)
    source = RangedObject(s3, bucket, entry["key"], size)
    parquet = pq.ParquetFile(source, read_dictionary=encoded or None)
    present = [name for name in columns if name in parquet.schema_arrow.names]
    if len(present) == len(parquet.schema_arrow.names):  # everything: one GET is cheaper
        return pq.read_table(pa.BufferReader(_get(s3, bucket, entry["key"])), read_dictionary=encoded or None)
    return parquet.read(columns=present)


def conform(batch: pa.RecordBatch, schema: pa.Schema, *, keep_dictionary: bool = False) -> pa.RecordBatch:
    """The batch in ``schema``'s layout: missing columns (fields declared after the file was written)
    are empty; a column of another type is cast, or empty when it cannot be. ``keep_dictionary``: a
    dictionary-encoded column of the schema's type stays encoded (the batch's schema says so)."""
    arrays = []
    fields = []
    for target in schema:
        index = batch.schema.get_field_index(target.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, target.type))
            fields.append(target)
            continue
        column = batch.column(index)
        if keep_dictionary and pa.types.is_dictionary(column.type) and column.type.value_type == target.type:
            arrays.append(column)
            fields.append(target.with_type(column.type))
            continue
        fields.append(target)
        if column.type != target.type:
            try:
                column = column.cast(target.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                column = pa.nulls(batch.num_rows, target.type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields, metadata=schema.metadata))


def contacts_batch(contacts: Iterable[Contact], catalog: FieldCatalog, *, with_erased: bool = False,
                   keys: Sequence[int | None] | pa.Array | None = None) -> pa.RecordBatch:
    """Stored contacts as one typed record batch; values read exactly as the per-record evaluator
    reads them (``rules.record.normalise``), so both evaluators see the same contact. ``keys``: their
    contact keys, appended as the ``contact_key`` column."""
    schema = contacts_schema(catalog)
    rows = list(contacts)
    columns: dict[str, list[Any]] = {"contact_id": [c.contact_id for c in rows]}
    shapes = [c.as_row() for c in rows]
    for target in schema:
        if target.name == "contact_id":
            continue
        cell = _CELLS.get(kind := catalog.type_of(target.name))
        name = target.name
        if cell is None:
            columns[name] = [_cell(kind, shape.get(name)) for shape in shapes]
        else:  # the column's own reader, the same values (``_CELLS``)
            columns[name] = [None if (raw := shape.get(name)) is None else cell(raw) for shape in shapes]
    arrays = [pa.array(columns[f.name], type=f.type) for f in schema]
    if keys is not None:
        schema = schema.append(pa.field(KEY, KEY_TYPE))
        arrays.append(keys.cast(KEY_TYPE) if isinstance(keys, pa.Array) else pa.array(keys, KEY_TYPE))
    if with_erased:
        schema = schema.append(pa.field(ERASED, pa.bool_()))
        arrays.append(pa.array([c.erased for c in rows], pa.bool_()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _string_cell(raw: Any) -> Any:
    return raw if type(raw) is str else _cell(FieldType.STRING, raw)


def _number_cell(raw: Any) -> Any:
    if type(raw) is float:
        return None if raw != raw else raw  # NaN is empty, as ``normalise`` reads it
    return _cell(FieldType.NUMBER, raw)


def _boolean_cell(raw: Any) -> Any:
    return raw if type(raw) is bool else _cell(FieldType.BOOLEAN, raw)


def _datetime_cell(raw: Any) -> Any:
    """A stored stamp (``2026-12-07T13:00:00Z``, with or without milliseconds, the form the service
    writes) read as ``normalise`` reads it, without its first try of a date-only form (an exception
    per value); any other value goes ``_cell``'s way."""
    if type(raw) is str and len(raw) in (20, 24) and raw[10] == "T" and raw[-1] == "Z":
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return _cell(FieldType.DATETIME, raw)
        if moment.tzinfo is UTC:
            return moment
    return _cell(FieldType.DATETIME, raw)


# Per field type, a reader of one present (non-None) stored value giving exactly ``_cell``'s answer:
# a full snapshot reads every field of every contact (the demo's first run: 20,000 contacts x ~20
# columns), and ``_cell`` then ``normalise`` dispatch on the type again for each value.
_CELLS = {
    FieldType.STRING: _string_cell,
    FieldType.NUMBER: _number_cell,
    FieldType.BOOLEAN: _boolean_cell,
    FieldType.DATETIME: _datetime_cell,
}


def _cell(kind: FieldType, raw: Any) -> Any:
    if raw is None:
        return None
    if kind is FieldType.STRING:
        return raw if isinstance(raw, str) else str(raw)
    if kind is FieldType.LIST:
        items = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple) else []
        # non-strings kept as nulls: a list holding only them is still not empty (docs/rules.md)
        return [item if isinstance(item, str) else None for item in items]
    try:
        value = normalise(kind, raw)
    except (TypeError, ValueError, AttributeError, OverflowError):  # e.g. a number under a datetime field
        return None  # declared after the values were stored: unreadable as the type, so empty
    if kind is FieldType.DATE and isinstance(value, datetime):
        return value.date()
    if kind is FieldType.DATETIME and isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


# -- writing -----------------------------------------------------------------------------------------


def _full_build(tenant, s3, bucket, folder, schema, catalog, manifest: Manifest,
                carried: tuple[pa.Array, pa.Array] | None = None) -> str | None:
    """Every contact of the tenant's partition (repair and first snapshot) into sorted base files.
    Keys: ``carried`` (sorted ids, their keys) are kept, every other contact gets the next key.

    Each Query page becomes its record batch as soon as it is read, while the table serves the next
    page (``_partition_pages``): the typed columns of the last page, not of the whole partition, are
    what is left to build once the table has answered (the same values: ``contacts_batch`` is row by
    row, and the keys are numbered over the file's rows in the same order as before)."""
    watermark: str | None = None
    batches: list[pa.RecordBatch] = []
    rows = 0

    def flush() -> None:
        nonlocal rows
        if batches:
            table = pa.Table.from_batches(batches)
            ids = table.column("contact_id").combine_chunks()
            known = None if carried is None else _lookup_keys(*carried, ids)
            first = manifest.next_key
            keys = _fill_new_keys(known, table.num_rows, manifest)
            fresh = ids if known is None else ids.filter(pc.is_null(known))
            key_directory.record(tenant, manifest.key_space, first, fresh, s3, bucket)
            _write_base(s3, bucket, folder, table.append_column(pa.field(KEY, KEY_TYPE), keys), manifest)
            batches.clear()
            rows = 0

    for page in _partition_pages(tenant):
        for contact in page:
            watermark = max(watermark or "", contact.updated_at)
        while page:
            taken, page = page[:ROWS_PER_FILE - rows], page[ROWS_PER_FILE - rows:]
            batches.append(contacts_batch(taken, catalog))
            rows += len(taken)
            if rows >= ROWS_PER_FILE:
                flush()
    flush()
    return watermark


def _partition_pages(tenant: str) -> Iterator[list[Contact]]:
    """Every live contact of the tenant's partition, a Query page at a time, for the full build (a
    tenant's first snapshot reads every contact it has).

    Read from the Query's raw pages: the next page is fetched on a thread while this one is
    converted (and, in ``_full_build``, made a record batch), so the table serves a page while the
    caller works on the last, instead of each waiting for the other; and each contact is read from
    its raw map (``document_from_raw``, as the contact stream reads images: the same values) instead
    of through a pynamodb model and boto3's deserialiser, which were most of the caller's CPU on the
    demo's 20,000 contacts."""
    ContactItem._get_connection().connection.client  # noqa: B018, SLF001 - built here, from this thread's
    # shared botocore session, not on the reader's thread from a new one
    pages = ContactItem.query(tenant).page_iter
    with ThreadPoolExecutor(max_workers=1) as reader:
        pending = reader.submit(next, pages, None)
        while (page := pending.result()) is not None:
            pending = reader.submit(next, pages, None)
            live = [_contact_from_raw(raw) for raw in page.get("Items") or []
                    if not (raw.get("erased") or {}).get("BOOL")]
            if live:
                yield live


def _contact_from_raw(raw: dict[str, Any]) -> Contact:
    """A stored contact (DynamoDB JSON) as ``contacts_repo`` returns it."""
    fields = (raw.get("fields") or {}).get("M")
    version = (raw.get("version") or {}).get("N")
    # built without validating again: every value is read from its DynamoDB type as the model's
    # field declares it (``Contact(...)`` validated each of the full snapshot's contacts: ~10% of its CPU)
    return Contact.model_construct(
        contact_id=raw["sk"]["S"],
        fields=document_from_raw(fields) if fields else {},
        created_at=raw["created_at"]["S"],
        updated_at=raw["updated_at"]["S"],
        version=int(version) if version else 0,
    )


def _incremental(tenant, s3, bucket, folder, schema, catalog, previous: Manifest, manifest: Manifest) -> None:
    since = previous.watermark
    if since:
        since = (datetime.fromisoformat(since) - WATERMARK_OVERLAP).isoformat(timespec="milliseconds")
        since = since.replace("+00:00", "Z")  # the stored stamps' form (``storage.base.now_iso``)
    changed: dict[str, Contact] = {}
    watermark = previous.watermark
    for contact in contacts_repo.changed_since(tenant, since):
        changed[contact.contact_id] = contact  # update order: the newest version wins
        watermark = max(watermark or "", contact.updated_at)
    manifest.watermark = watermark
    manifest.key_space, manifest.next_key = previous.key_space, previous.next_key
    manifest.key_directory = previous.key_directory
    old_delta = _read_delta(previous, s3, bucket)
    parts = []
    changed_ids = pa.array(list(changed), pa.string())
    known = _known_keys(previous, old_delta, changed_ids, s3, bucket) if changed else None
    if old_delta is not None and len(old_delta):
        stored = schema.append(pa.field(KEY, KEY_TYPE)).append(pa.field(ERASED, pa.bool_()))
        old_delta = conform_table(old_delta, stored)
        if changed:
            old_delta = old_delta.filter(pc.invert(pc.is_in(old_delta.column("contact_id"), value_set=changed_ids)))
        parts.append(old_delta)
    if changed:
        live = pc.invert(pa.array([c.erased for c in changed.values()], pa.bool_()))
        first = manifest.next_key
        keys = _fill_new_keys(known, len(changed), manifest, only=live)  # an erased stranger gets none
        fresh = changed_ids.filter(pc.and_(pc.is_null(known), live))  # given in this order, from ``first``
        key_directory.record(tenant, manifest.key_space, first, fresh, s3, bucket)
        parts.append(pa.Table.from_batches([contacts_batch(changed.values(), catalog, with_erased=True, keys=keys)]))
    delta = pa.concat_tables(parts) if parts else None
    manifest.files = list(previous.files)
    if delta is not None and len(delta) > max(COMPACT_MIN_ROWS, COMPACT_SHARE * previous.base_rows):
        manifest.delta = _write_delta(s3, bucket, folder, delta)
        _compact(s3, bucket, folder, catalog, manifest)
    elif delta is not None and len(delta):
        manifest.delta = _write_delta(s3, bucket, folder, delta)


def _compact(s3, bucket, folder, catalog, manifest: Manifest) -> None:
    """Fold the delta into fresh base files (streamed; one file's rows in memory at a time)."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    staged = Manifest(**{**asdict(manifest), "files": []})
    for batch in iter_batches(manifest, s3, catalog, bucket=bucket, keys=True):
        pending.append(batch)
        rows += batch.num_rows
        if rows >= ROWS_PER_FILE:
            _write_base(s3, bucket, folder, pa.Table.from_batches(pending), staged)
            pending, rows = [], 0
    if pending:
        _write_base(s3, bucket, folder, pa.Table.from_batches(pending), staged)
    manifest.files, manifest.delta = staged.files, None


def _known_keys(previous: Manifest, old_delta: pa.Table | None, ids: pa.Array, s3, bucket: str) -> pa.Array:
    """The keys ``ids`` already have in the ``previous`` snapshot (its delta first, tombstones included,
    then its base files; null for contacts it never held). Only the two key columns are read."""
    found = pa.nulls(len(ids), KEY_TYPE)
    sources = [] if old_delta is None or KEY not in old_delta.column_names else [old_delta]
    for source in [*sources, *(read_columns(s3, bucket, entry, ["contact_id", KEY]) for entry in previous.files)]:
        if not pc.any(pc.is_null(found)).as_py():
            break
        hit = pc.is_in(source.column("contact_id"), value_set=ids)
        if not pc.any(hit).as_py():
            continue
        here = source.filter(hit)
        where = pc.index_in(ids, value_set=here.column("contact_id").combine_chunks())
        keys = here.column(KEY).combine_chunks().cast(KEY_TYPE).take(where)
        found = pc.coalesce(found, keys)
    return found


def _fill_new_keys(known: pa.Array | None, size: int, manifest: Manifest, only: pa.Array | None = None) -> pa.Array:
    """``known`` keys with each gap (where ``only`` holds, default everywhere) given the manifest's
    next key in order; advances ``manifest.next_key``."""
    known = pa.nulls(size, KEY_TYPE) if known is None else known.cast(KEY_TYPE)
    missing = pc.is_null(known)
    if only is not None:
        missing = pc.and_(missing, only)
    fresh = int(pc.sum(missing).as_py() or 0)
    if not fresh:
        return known
    # in int64 until the gaps are chosen: before the first gap the running count is 0, next_key - 1
    # there is -1 when the key space is new, and only the gaps' numbers must fit the key type
    numbered = pc.add(pc.cumulative_sum(missing.cast(pa.int64())), manifest.next_key - 1)
    manifest.next_key += fresh
    return pc.if_else(missing, numbered, known.cast(pa.int64())).cast(KEY_TYPE)


def _live_keys(manifest: Manifest, s3, bucket: str) -> tuple[pa.Array, pa.Array] | None:
    """Every live contact's (id, key) of ``manifest``, sorted by id (None: written before keys)."""
    if manifest.key_space is None:
        return None
    table = pa.Table.from_batches(list(iter_batches(manifest, s3, manifest.catalog(), bucket=bucket,
                                                    columns=["contact_id"], keys=True)),
                                  schema=pa.schema([pa.field("contact_id", pa.string(), nullable=False),
                                                    pa.field(KEY, KEY_TYPE)])).sort_by("contact_id")
    return table.column("contact_id").combine_chunks(), table.column(KEY).combine_chunks()


def _record_all_keys(tenant: str, manifest: Manifest, s3, bucket: str) -> None:
    """Every key ``manifest`` holds (live contacts, and erased ones whose tombstones its delta keeps)
    recorded as one directory part from key 0 (null: a key no longer held by anyone)."""
    live = _live_keys(manifest, s3, bucket)
    ids, keys = live if live is not None else (pa.array([], pa.string()), pa.array([], KEY_TYPE))
    delta = _read_delta(manifest, s3, bucket)
    if delta is not None and KEY in delta.column_names:
        gone = delta.filter(pc.and_(pc.fill_null(delta.column(ERASED), False), pc.is_valid(delta.column(KEY))))
        ids = pa.concat_arrays([ids, gone.column("contact_id").combine_chunks().cast(pa.string())])
        keys = pa.concat_arrays([keys, gone.column(KEY).combine_chunks().cast(KEY_TYPE)])
    at = np.full(manifest.next_key, -1, np.int64)
    at[keys.to_numpy(zero_copy_only=False).astype(np.int64)] = np.arange(len(keys))
    key_directory.record(tenant, manifest.key_space, 0, ids.take(pa.array(at, mask=at < 0)), s3, bucket)


def _lookup_keys(ordered_ids: pa.Array, keys: pa.Array, ids: pa.Array) -> pa.Array:
    from audience.rules.vectorised import sorted_positions

    return keys.take(sorted_positions(ordered_ids, ids))


def conform_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    batches = [conform(b, schema) for b in table.to_batches()]
    return pa.Table.from_batches(batches, schema=schema)


def _write_base(s3, bucket, folder, table: pa.Table, manifest: Manifest) -> None:
    table = table.sort_by("contact_id")  # sorted files keep the activity lookup per batch cheap
    key = f"{folder}contacts-{len(manifest.files):05d}.parquet"
    body = _parquet_bytes(table)
    _put(s3, bucket, key, body)
    manifest.files.append({"key": key, "rows": table.num_rows, "bytes": len(body),
                           "dictionary": low_cardinality_strings(table)})


def low_cardinality_strings(table: pa.Table, share: float | None = None) -> list[str]:
    """String columns (not ``contact_id``) with at most ``share`` (default `DICTIONARY_SHARE`) distinct
    values: the ones worth reading dictionary-encoded (country, stage, city...; not emails or names of
    a big list)."""
    limit = max(1, int((DICTIONARY_SHARE if share is None else share) * table.num_rows))
    return [name for name, column in zip(table.column_names, table.columns, strict=True)
            if name != "contact_id" and column.type == pa.string() and column.null_count < len(column)
            and (pc.count_distinct(column).as_py() or 0) <= limit]


def _write_delta(s3, bucket, folder, delta: pa.Table) -> dict[str, Any]:
    key = f"{folder}delta.parquet"
    _put(s3, bucket, key, _parquet_bytes(delta.sort_by("contact_id")))
    return {"key": key, "rows": delta.num_rows}


def _read_delta(manifest: Manifest, s3, bucket: str) -> pa.Table | None:
    if not manifest.delta:
        return None
    return pq.read_table(pa.BufferReader(_get(s3, bucket, manifest.delta["key"])))


def erased_in_delta(manifest: Manifest, s3, bucket: str | None = None) -> pa.Array:
    """Ids of the contacts the snapshot's delta marks erased (tombstones since the base was written)."""
    delta = _read_delta(manifest, s3, bucket or get_settings().data_bucket)
    if delta is None:
        return pa.array([], pa.string())
    return delta.column("contact_id").filter(pc.fill_null(delta.column(ERASED), False)).combine_chunks()


def _count(manifest: Manifest, s3, bucket: str) -> int:
    delta = _read_delta(manifest, s3, bucket)
    if delta is None:
        return manifest.base_rows
    replaced = delta.column("contact_id")
    replaced_in_base = 0
    for entry in manifest.files:
        ids = read_columns(s3, bucket, entry, ["contact_id"]).column(0)
        replaced_in_base += pc.sum(pc.is_in(ids, value_set=replaced)).as_py() or 0
    live_in_delta = len(delta) - (pc.sum(pc.fill_null(delta.column(ERASED), False)).as_py() or 0)
    return manifest.base_rows - replaced_in_base + live_in_delta


def _projected(schema: pa.Schema, columns: Sequence[str] | None) -> pa.Schema:
    if columns is None:
        return schema
    wanted = ["contact_id", *[c for c in columns if c != "contact_id"]]
    return pa.schema([schema.field(name) for name in dict.fromkeys(wanted) if schema.get_field_index(name) >= 0])


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", row_group_size=BATCH_ROWS)
    return sink.getvalue()


def _put(s3, bucket: str, key: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def _get(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
