"""Which contact id each contact key of a key space was given to: what lets a run's state keep its
members as keys only (``state``) and still name them later.

Layout (DATA_BUCKET)::

    tenants/{t}/keyspaces/{key_space}/keys-{first:010d}.parquet   one column ``contact_id``: the ids of
                                                                   keys first, first + 1, ... (null: a
                                                                   key no contact holds)

Every snapshot build that gives new keys writes parts for them (keys are given in a contiguous
run from ``Manifest.next_key``, so a part is just the ids in key order), at most ``PART_KEYS`` keys
a part, so naming a few keys (a run's erased members) reads a few MB, not a whole tenant's ids.
Incremental builds give a few keys each: once ``MERGE_AT`` small parts (under ``SMALL_KEYS`` keys)
end the directory, they are merged into one, so a key space's part count stays about its keys over
``SMALL_KEYS`` plus ``MERGE_AT`` however many builds it has seen (an hourly build for a year would
otherwise leave ~9,000 parts for every full read to list and fetch). A key is never given twice
within a key space and no key's entry is ever dropped (a merge moves entries, never removes one),
so the directory names every key a state of that
key space can hold: live contacts, contacts erased since (whose tombstones a compaction drops from
the snapshot), and all keys of a key space a full rebuild has since replaced. A key space numbered
before the directory existed gets it once, from the snapshot that then still holds every key a
later state can hold (``snapshots.build_snapshot``, ``Manifest.key_directory``).

It lives outside ``snapshots/``: snapshot pruning never reaches it. A part written by a build that
died before its manifest is overwritten by the retry (same first key), and keys at or past the
manifest's ``next_key`` are never asked for. A merge writes the merged part over the first part
it merges (a superset: same first key, same ids) before deleting the others, so a reader that
listed the parts before the merge finds every key either way, or misses a deleted part and lists
again (``ids_of``).
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from audience.rules.vectorised import is_strictly_sorted

PART = re.compile(r"keys-(\d+)\.parquet$")
READERS = 4  # parts fetched at once when many are needed
PART_KEYS = 262_144  # keys a part holds at most (module docstring)
SMALL_KEYS = 65_536  # a part under this many keys is merged with the small ones after it
MERGE_AT = 16  # small parts at the directory's end that are merged into one


class UnknownKeys(LookupError):
    """Keys the directory does not name: the state they came from cannot be read as ids."""


def prefix(tenant: str, key_space: str) -> str:
    return f"tenants/{tenant}/keyspaces/{key_space}/"


def record(tenant: str, key_space: str, first: int, ids: pa.Array, s3, bucket: str) -> None:
    """Write the ids of keys ``first .. first + len(ids) - 1`` (in key order; null: no contact), in
    parts of at most ``PART_KEYS``; then merge the directory's small trailing parts if ``MERGE_AT``
    of them have gathered."""
    for start in range(0, len(ids), PART_KEYS):
        _write_part(tenant, key_space, first + start, ids.slice(start, PART_KEYS), s3, bucket)
    if len(ids):
        _merge_small_tail(tenant, key_space, first + len(ids), s3, bucket)


def _write_part(tenant: str, key_space: str, first: int, ids: pa.Array, s3, bucket: str) -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table({"contact_id": ids.cast(pa.string())}), sink, compression="zstd")
    s3.put_object(Bucket=bucket, Key=_part_key(tenant, key_space, first), Body=sink.getvalue())


def _part_key(tenant: str, key_space: str, first: int) -> str:
    return f"{prefix(tenant, key_space)}keys-{first:010d}.parquet"


def _read_part(tenant: str, key_space: str, first: int, s3, bucket: str) -> pa.Array:
    body = s3.get_object(Bucket=bucket, Key=_part_key(tenant, key_space, first))["Body"].read()
    return pq.read_table(pa.BufferReader(body)).column("contact_id").combine_chunks()


def _merge_small_tail(tenant: str, key_space: str, end: int, s3, bucket: str) -> None:
    """Merge the parts at the directory's end that each hold fewer than ``SMALL_KEYS`` keys, once
    ``MERGE_AT`` of them have gathered (``end``: one past the last key written). A part's length is
    the distance to the next part's first key (keys are given contiguously), the last one's to ``end``."""
    firsts = _parts(tenant, key_space, s3, bucket)
    bounds = [*firsts[1:], end]
    tail: list[int] = []
    for index in range(len(firsts) - 1, -1, -1):
        if bounds[index] - firsts[index] >= SMALL_KEYS:
            break
        tail.insert(0, index)
    if len(tail) < MERGE_AT:
        return
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        parts = list(pool.map(lambda i: _read_part(tenant, key_space, firsts[i], s3, bucket), tail))
    # parts meet end to end (a retry overwrites what a build that died wrote at the same first key);
    # each is cut at the next one's first key all the same, so an overlap could never name a key twice
    merged = pa.concat_arrays([part.slice(0, bounds[i] - firsts[i]) for i, part in zip(tail, parts, strict=True)])
    _write_part(tenant, key_space, firsts[tail[0]], merged, s3, bucket)  # over the first: a superset of it
    gone = [{"Key": _part_key(tenant, key_space, firsts[i])} for i in tail[1:]]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": gone, "Quiet": True})


def ids_of(tenant: str, key_space: str, keys: np.ndarray, s3, bucket: str) -> pa.Array:
    """The ids of ``keys`` (any order, each once or more), in the keys' order. Only the parts that can
    hold one of them are read. Raises ``UnknownKeys`` when one is named by no part. A part that a
    merge deleted after it was listed sends the lookup back to the listing, once (module docstring)."""
    try:
        return _ids_of(tenant, key_space, keys, s3, bucket)
    except s3.exceptions.NoSuchKey:
        return _ids_of(tenant, key_space, keys, s3, bucket)


def _ids_of(tenant: str, key_space: str, keys: np.ndarray, s3, bucket: str) -> pa.Array:
    keys = np.asarray(keys, np.int64)
    if not len(keys):
        return pa.array([], pa.string())
    firsts = _parts(tenant, key_space, s3, bucket)
    if not firsts:
        raise UnknownKeys(f"key space {key_space} has no key directory")
    starts = np.array(firsts, np.int64)
    part = np.searchsorted(starts, keys, side="right") - 1  # the last part starting at or before each key
    if (part < 0).any():
        raise UnknownKeys(f"{int((part < 0).sum())} keys before the key directory of {key_space}")
    wanted = sorted(set(part.tolist()))

    def read(index: int) -> pa.Array:
        return _read_part(tenant, key_space, firsts[index], s3, bucket)

    with ThreadPoolExecutor(max_workers=max(1, min(READERS, len(wanted)))) as pool:
        columns = dict(zip(wanted, pool.map(read, wanted), strict=True))
    # one array of every read part, each key's place in it: a single take in the keys' order
    lengths, offsets = np.zeros(len(firsts), np.int64), np.zeros(len(firsts), np.int64)
    cursor = 0
    for index in wanted:
        lengths[index], offsets[index] = len(columns[index]), cursor
        cursor += len(columns[index])
    whole = pa.concat_arrays([columns[index] for index in wanted])
    within = keys - starts[part]
    if (within >= lengths[part]).any():
        raise UnknownKeys(f"{int((within >= lengths[part]).sum())} keys past the key directory of {key_space}")
    found = whole.take(pa.array(offsets[part] + within))
    if found.null_count:
        raise UnknownKeys(f"{found.null_count} keys of {key_space} given to no contact")
    return found


def all_ids(tenant: str, key_space: str, keys: np.ndarray, s3, bucket: str) -> pa.Array:
    """``ids_of`` sorted bytewise (the order of a state's ids), for a whole set of members."""
    found = ids_of(tenant, key_space, keys, s3, bucket)
    if len(found) < 2 or is_strictly_sorted(found):  # keys a full build gave rise with the ids: no sort
        return found
    return found.take(pc.sort_indices(found))


def _parts(tenant: str, key_space: str, s3, bucket: str) -> list[int]:
    """First keys of the directory's parts, ascending."""
    firsts = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix(tenant, key_space)):
        for item in page.get("Contents", []):
            hit = PART.search(item["Key"])
            if hit:
                firsts.append(int(hit.group(1)))
    return sorted(firsts)
