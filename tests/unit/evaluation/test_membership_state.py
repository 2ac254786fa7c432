"""Last run's state (``evaluation.state``) keeps the members' keys as a bitmap beside its columns, so
the next keyed diff starts from the set without rebuilding it from every key."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from audience.evaluation import state
from audience.keysets import KeySet


class _Bucket:
    """Just the two S3 calls the state makes."""

    class exceptions:  # noqa: N801 - as boto3 names it
        class NoSuchKey(Exception):
            pass

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def put_object(self, *, Bucket, Key, Body):  # noqa: N803
        self.objects[Key] = Body

    def get_object(self, *, Bucket, Key):  # noqa: N803
        if Key not in self.objects:
            raise self.exceptions.NoSuchKey(Key)
        return {"Body": io.BytesIO(self.objects[Key])}


def test_state_keeps_the_members_keys_as_a_set():
    s3 = _Bucket()
    keys = [70001, 3, 12, 9]
    state.write_state("t1", "s1", pa.array(["a", "b", "c", "d"]), s3, "b", cut="x", keys=pa.array(keys, pa.uint32()),
                      key_space="k1")
    found = state.read_state("t1", "s1", s3, "b", keys=True)
    assert found.key_set == KeySet.of(keys) and sorted(found.key_set.keys().tolist()) == sorted(keys)
    assert found.keys.to_pylist() == keys and found.key_space == "k1" and found.cut == "x"
    assert state.read_state("t1", "s1", s3, "b").key_set is None  # ids only: the bitmap is not decoded


def test_state_written_before_the_bitmap_reads_without_it():
    s3 = _Bucket()
    table = pa.table({"contact_id": ["a"], state.KEY: pa.array([4], pa.uint32())}).replace_schema_metadata(
        {state.KEY_SPACE: b"k1"})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    s3.objects[state.state_key("t1", "s1")] = sink.getvalue()
    found = state.read_state("t1", "s1", s3, "b", keys=True)
    assert found.key_set is None and np.array_equal(found.keys.to_numpy(), [4])
