"""A base file's row groups, and so the evaluation's batches, are large enough that each batch's fixed
cost (every leaf's kernel calls and Python, ~7 ms for 50 segments) is paid about twice per file."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
from audience.evaluation import snapshots


def test_a_full_base_file_is_written_and_streamed_in_two_row_groups():
    table = pa.table({"contact_id": pa.array([f"c{i:07d}" for i in range(snapshots.ROWS_PER_FILE)])})
    stored = pq.ParquetFile(io.BytesIO(snapshots._parquet_bytes(table)))
    groups = [stored.metadata.row_group(i).num_rows for i in range(stored.num_row_groups)]
    assert groups == [snapshots.BATCH_ROWS, snapshots.ROWS_PER_FILE - snapshots.BATCH_ROWS]
    read = stored.read()
    assert [b.num_rows for b in read.to_batches(max_chunksize=snapshots.BATCH_ROWS)] == groups
