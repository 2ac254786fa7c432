"""Last run's membership of each dynamic segment, kept as Parquet in S3: the base of the next diff.

``tenants/{t}/memberships/{segment_id}.parquet`` holds one column ``contact_id`` and, in the file's
metadata, the ``cut`` of the snapshot it was computed from (and, from runs over keyed snapshots, a
column ``contact_key`` with the members' integer keys and the ``key_space`` they belong to: the
next diff is then an integer set operation, ``keyed``) (the newest contact change that snapshot
saw). Diffing against it (Arrow ``is_in``) means a run writes to DynamoDB only the memberships that
changed; the cut tells the next run which contacts the real-time path touched since (``changes``).
When the object is missing (first run, lost state) the membership table itself is the base, so
nothing is re-written that is already there.

Three forms are read: ids only (written before contact keys), ids with keys, and — what a run over
a snapshot whose key space has a complete key directory writes — keys only (``KEY_BITS``, no
``contact_id`` column), so a run takes string ids only for the members that changed. Keys only is
safe because every key the state can hold is named by its key space's directory
(``key_directory``): keys are never given twice within a key space; a contact erased since keeps its
entry there (a removal still needs its id: the run's diff finds the ids of members no longer in the
pass there, ``keyed.diff``); a full rebuild starts a new key space but leaves the old one's
directory in place (the next run then reads the old state's ids from it and diffs on strings). A
key space numbered before the directory gets it, whole, at its next snapshot build, and until a
snapshot says its directory is complete (``Manifest.key_directory``) runs keep writing ids with
their keys. ``read_state(keys=False)`` names a keys-only state's members from the directory, so
readers that want ids (exports, trust's what-if, referenced segments) read every form alike.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from audience.evaluation import key_directory
from audience.keysets import KeySet
from audience.storage import memberships_repo

CUT = b"audience.cut"
KEY_SPACE = b"audience.key_space"
KEY_BITS = b"audience.key_bits"  # the members' keys as a bitmap (``keysets``), zstd-compressed
KEY_BITS_BYTES = b"audience.key_bits_bytes"  # its length uncompressed
KEY_BITS_ONLY = b"audience.keys_only"  # the members are the bitmap alone: no id column (module docstring)
KEY = "contact_key"  # as snapshots.KEY (not imported: exports read states without the evaluation stack)


@dataclass(frozen=True)
class State:
    members: pa.Array | None  # distinct contact ids, sorted (None: a keys-only state read with keys=True)
    cut: str | None  # snapshot cut of the run that wrote it (None: unknown, e.g. read from the table)
    keys: pa.Array | None = None  # the members' contact keys (uint32), aligned (None: not kept)
    key_space: str | None = None  # the snapshots' key space those keys belong to
    key_set: KeySet | None = None  # the same keys as a set, as kept (None: a state written before it)

    @property
    def keys_only(self) -> bool:
        return self.members is None

    @property
    def member_count(self) -> int:
        return len(self.key_set) if self.members is None else len(self.members)


def state_key(tenant: str, segment_id: str) -> str:
    return f"tenants/{tenant}/memberships/{segment_id}.parquet"


def read_state(tenant: str, segment_id: str, s3, bucket: str, *, keys: bool = False) -> State | None:
    """The kept state; ``keys``: with the members' contact keys when it has them — and then a
    keys-only state comes as it is, ``members`` None. Without ``keys`` every form comes with its ids
    (a keys-only state's named from its key space's directory, ``member_ids``)."""
    try:
        body = s3.get_object(Bucket=bucket, Key=state_key(tenant, segment_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    file = pq.ParquetFile(pa.BufferReader(body))
    stored = file.metadata.metadata or {}
    if stored.get(KEY_BITS_ONLY):
        cut, space = stored.get(CUT), stored[KEY_SPACE].decode()
        found = State(None, cut.decode() if cut else None, None, space, _key_set(stored))
        if keys:
            return found
        return State(member_ids(tenant, found, s3, bucket), found.cut)
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


def member_ids(tenant: str, found: State, s3, bucket: str) -> pa.Array:
    """A state's member ids, sorted bytewise: as kept, or a keys-only state's from its key space's
    directory (one read of the parts holding its keys; ``key_directory.UnknownKeys`` if one is not
    named, which the module docstring's argument rules out)."""
    if found.members is not None:
        return found.members
    return key_directory.all_ids(tenant, found.key_space, found.key_set.keys(), s3, bucket)


def previous_members(tenant: str, segment_id: str, s3, bucket: str) -> pa.Array:
    """Last run's members: the S3 state, or the membership table when there is none."""
    return previous_state(tenant, segment_id, s3, bucket).members


def previous_state(tenant: str, segment_id: str, s3, bucket: str) -> State:
    """The S3 state, or (no cut) the membership table's members when there is none."""
    found = read_state(tenant, segment_id, s3, bucket)
    if found is not None:
        return found
    return State(pa.array(list(memberships_repo.iter_members(tenant, segment_id)), pa.string()), None)


def write_state(tenant: str, segment_id: str, members: pa.Array | None, s3, bucket: str, *, cut: str | None = None,
                keys: pa.Array | None = None, key_space: str | None = None, key_set: KeySet | None = None) -> None:
    """Members (and keys) as given; with keys, the same keys as a bitmap in the file's key-value
    metadata (``KEY_BITS``, not in the Arrow schema, which would hold it a second time in base64),
    so the next run's keyed diff starts from the set (``keyed.diff``).

    ``members`` None: a keys-only state of ``key_set`` in ``key_space`` (module docstring): the
    bitmap alone, compressed — no id is taken for it."""
    metadata = {CUT: cut.encode()} if cut else {}
    if members is None:
        if key_set is None or not key_space:
            raise ValueError("a keys-only state needs its key set and key space")
        table = pa.table({KEY: pa.array([], pa.uint32())})  # what it holds is in the file's metadata
        extra = {KEY_BITS_ONLY: b"1", **key_bits(key_set), KEY_SPACE: key_space.encode(), **metadata}
        _put(tenant, segment_id, table, extra, s3, bucket)
        return
    columns = {"contact_id": members.cast(pa.string())}
    extra = {}
    if keys is not None and key_space:
        columns[KEY] = keys.cast(pa.uint32())
        metadata[KEY_SPACE] = key_space.encode()
        bits = KeySet.of(columns[KEY].to_numpy(zero_copy_only=False)).bits
        extra = {KEY_BITS: pa.compress(bits, codec="zstd", asbytes=True), KEY_BITS_BYTES: str(len(bits)).encode()}
    table = pa.table(columns)
    if metadata:
        table = table.replace_schema_metadata(metadata)
    _put(tenant, segment_id, table, extra, s3, bucket)


def key_bits(key_set: KeySet) -> dict[bytes, bytes]:
    """A key set as a keys-only state keeps it: the bitmap zstd-compressed, and its length (what a
    run does with each segment's members in place of taking their ids)."""
    bits = key_set.bits
    return {KEY_BITS: pa.compress(bits, codec="zstd", asbytes=True), KEY_BITS_BYTES: str(len(bits)).encode()}


def _put(tenant: str, segment_id: str, table: pa.Table, extra: dict[bytes, bytes], s3, bucket: str) -> None:
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, table.schema, compression="zstd") as writer:
        writer.write_table(table)
        if extra:
            writer.add_key_value_metadata(extra)
    s3.put_object(Bucket=bucket, Key=state_key(tenant, segment_id), Body=sink.getvalue())
