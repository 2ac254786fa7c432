"""Last run's membership of each dynamic segment, kept as Parquet in S3: the base of the next diff.

``tenants/{t}/memberships/{segment_id}.parquet`` holds one column ``contact_id`` and, in the file's
metadata, the ``cut`` of the snapshot it was computed from (and, from runs over keyed snapshots, a
column ``contact_key`` with the members' integer keys and the ``key_space`` they belong to: the
next diff is then an integer set operation, ``keyed``) (the newest contact change that snapshot
saw). Diffing against it (Arrow ``is_in``) means a run writes to DynamoDB only the memberships that
changed; the cut tells the next run which contacts the real-time path touched since (``changes``).
When the object is missing (first run, lost state) the membership table itself is the base, so
nothing is re-written that is already there.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from audience.keysets import KeySet
from audience.storage import memberships_repo

CUT = b"audience.cut"
KEY_SPACE = b"audience.key_space"
KEY_BITS = b"audience.key_bits"  # the members' keys as a bitmap (``keysets``), zstd-compressed
KEY_BITS_BYTES = b"audience.key_bits_bytes"  # its length uncompressed
KEY = "contact_key"  # as snapshots.KEY (not imported: exports read states without the evaluation stack)


@dataclass(frozen=True)
class State:
    members: pa.Array  # distinct contact ids
    cut: str | None  # snapshot cut of the run that wrote it (None: unknown, e.g. read from the table)
    keys: pa.Array | None = None  # the members' contact keys (uint32), aligned (None: not kept)
    key_space: str | None = None  # the snapshots' key space those keys belong to
    key_set: KeySet | None = None  # the same keys as a set, as kept (None: a state written before it)


def state_key(tenant: str, segment_id: str) -> str:
    return f"tenants/{tenant}/memberships/{segment_id}.parquet"


def read_state(tenant: str, segment_id: str, s3, bucket: str, *, keys: bool = False) -> State | None:
    """The kept state; ``keys``: with the members' contact keys when it has them."""
    try:
        body = s3.get_object(Bucket=bucket, Key=state_key(tenant, segment_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    file = pq.ParquetFile(pa.BufferReader(body))
    keyed = keys and KEY in file.schema_arrow.names
    table = file.read(columns=["contact_id", KEY] if keyed else ["contact_id"])
    column = table.column(0)
    members = pa.concat_arrays(column.chunks) if column.num_chunks else pa.array([], pa.string())
    metadata = table.schema.metadata or {}
    cut, space = metadata.get(CUT), metadata.get(KEY_SPACE)
    found = table.column(KEY).combine_chunks().cast(pa.uint32()) if keyed else None
    return State(members, cut.decode() if cut else None, found, space.decode() if keyed and space else None,
                 _key_set(file.metadata.metadata or {}) if keyed else None)


def _key_set(metadata: dict[bytes, bytes]) -> KeySet | None:
    """The kept bitmap: the next diff's base at the cost of one decompression (375 KB for a 3M key
    space), instead of one scattered write per member."""
    packed, length = metadata.get(KEY_BITS), metadata.get(KEY_BITS_BYTES)
    if packed is None or length is None:
        return None
    bits = np.frombuffer(pa.decompress(packed, decompressed_size=int(length), codec="zstd"), np.uint8)
    return KeySet(bits, len(bits) * 8)


def previous_members(tenant: str, segment_id: str, s3, bucket: str) -> pa.Array:
    """Last run's members: the S3 state, or the membership table when there is none."""
    return previous_state(tenant, segment_id, s3, bucket).members


def previous_state(tenant: str, segment_id: str, s3, bucket: str) -> State:
    """The S3 state, or (no cut) the membership table's members when there is none."""
    found = read_state(tenant, segment_id, s3, bucket)
    if found is not None:
        return found
    return State(pa.array(list(memberships_repo.iter_members(tenant, segment_id)), pa.string()), None)


def write_state(tenant: str, segment_id: str, members: pa.Array, s3, bucket: str, *, cut: str | None = None,
                keys: pa.Array | None = None, key_space: str | None = None) -> None:
    """Members (and keys) as given; with keys, the same keys as a bitmap in the file's key-value
    metadata (``KEY_BITS``, not in the Arrow schema, which would hold it a second time in base64),
    so the next run's keyed diff starts from the set (``keyed.diff``)."""
    columns = {"contact_id": members.cast(pa.string())}
    metadata = {CUT: cut.encode()} if cut else {}
    extra = {}
    if keys is not None and key_space:
        columns[KEY] = keys.cast(pa.uint32())
        metadata[KEY_SPACE] = key_space.encode()
        bits = KeySet.of(columns[KEY].to_numpy(zero_copy_only=False)).bits
        extra = {KEY_BITS: pa.compress(bits, codec="zstd", asbytes=True), KEY_BITS_BYTES: str(len(bits)).encode()}
    table = pa.table(columns)
    if metadata:
        table = table.replace_schema_metadata(metadata)
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, table.schema, compression="zstd") as writer:
        writer.write_table(table)
        if extra:
            writer.add_key_value_metadata(extra)
    s3.put_object(Bucket=bucket, Key=state_key(tenant, segment_id), Body=sink.getvalue())
