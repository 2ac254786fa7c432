"""Which contact id each contact key of a key space was given to: what lets a run's state keep its
members as keys only (``state``) and still name them later.

Layout (DATA_BUCKET)::

    tenants/{t}/keyspaces/{key_space}/keys-{first:010d}.parquet   one column ``contact_id``: the ids of
                                                                   keys first, first + 1, ... (null: a
                                                                   key no contact holds)

Every snapshot build that gives new keys writes one part for them (keys are given in a contiguous
run from ``Manifest.next_key``, so a part is just the ids in key order). A key is never given twice
within a key space and a part is never deleted, so the directory names every key a state of that
key space can hold: live contacts, contacts erased since (whose tombstones a compaction drops from
the snapshot), and all keys of a key space a full rebuild has since replaced. A key space numbered
before the directory existed gets it once, from the snapshot that then still holds every key a
later state can hold (``snapshots.build_snapshot``, ``Manifest.key_directory``).

It lives outside ``snapshots/``: snapshot pruning never reaches it. A part written by a build that
died before its manifest is overwritten by the retry (same first key), and keys at or past the
manifest's ``next_key`` are never asked for.
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


class UnknownKeys(LookupError):
    """Keys the directory does not name: the state they came from cannot be read as ids."""


def prefix(tenant: str, key_space: str) -> str:
    return f"tenants/{tenant}/keyspaces/{key_space}/"


def record(tenant: str, key_space: str, first: int, ids: pa.Array, s3, bucket: str) -> None:
    """Write the ids of keys ``first .. first + len(ids) - 1`` (in key order; null: no contact)."""
    if not len(ids):
        return
    sink = io.BytesIO()
    pq.write_table(pa.table({"contact_id": ids.cast(pa.string())}), sink, compression="zstd")
    s3.put_object(Bucket=bucket, Key=f"{prefix(tenant, key_space)}keys-{first:010d}.parquet", Body=sink.getvalue())


def ids_of(tenant: str, key_space: str, keys: np.ndarray, s3, bucket: str) -> pa.Array:
    """The ids of ``keys`` (any order, each once or more), in the keys' order. Only the parts that can
    hold one of them are read. Raises ``UnknownKeys`` when one is named by no part."""
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
        key = f"{prefix(tenant, key_space)}keys-{firsts[index]:010d}.parquet"
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return pq.read_table(pa.BufferReader(body)).column("contact_id").combine_chunks()

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
