"""Last run's membership of each dynamic segment, kept as Parquet in S3: the base of the next diff.

``tenants/{t}/memberships/{segment_id}.parquet`` holds one column ``contact_id``. Diffing against it
(Arrow ``is_in``) means a run writes to DynamoDB only the memberships that changed. When the object
is missing (first run, lost state) the membership table itself is the base, so nothing is
re-written that is already there.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from audience.storage import memberships_repo


def state_key(tenant: str, segment_id: str) -> str:
    return f"tenants/{tenant}/memberships/{segment_id}.parquet"


def read_state(tenant: str, segment_id: str, s3, bucket: str) -> pa.Array | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=state_key(tenant, segment_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    column = pq.read_table(pa.BufferReader(body), columns=["contact_id"]).column(0)
    return pa.concat_arrays(column.chunks) if column.num_chunks else pa.array([], pa.string())


def previous_members(tenant: str, segment_id: str, s3, bucket: str) -> pa.Array:
    """Last run's members: the S3 state, or the membership table when there is none."""
    found = read_state(tenant, segment_id, s3, bucket)
    if found is not None:
        return found
    return pa.array(list(memberships_repo.iter_members(tenant, segment_id)), pa.string())


def write_state(tenant: str, segment_id: str, members: pa.Array, s3, bucket: str) -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table({"contact_id": members.cast(pa.string())}), sink, compression="zstd")
    s3.put_object(Bucket=bucket, Key=state_key(tenant, segment_id), Body=sink.getvalue())


@dataclass(frozen=True)
class Diff:
    added: pa.Array
    removed: pa.Array


def diff(previous: pa.Array, current: pa.Array) -> Diff:
    """Ids that joined and ids that left (set semantics; inputs hold distinct ids)."""
    if not len(previous):
        return Diff(current, pa.array([], pa.string()))
    if not len(current):
        return Diff(pa.array([], pa.string()), previous)
    added = current.filter(pc.invert(pc.is_in(current, value_set=previous)))
    removed = previous.filter(pc.invert(pc.is_in(previous, value_set=current)))
    return Diff(added, removed)
