""".parquet lists: typed columns streamed one row group at a time, so memory follows the largest
row group rather than the file (cap: MAX_PARQUET_BYTES for the file, MAX_PARQUET_ROW_GROUP_ROWS rows
per group)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from audience.imports.errors import ImportFileError
from audience.imports.limits import MAX_COLUMNS, MAX_PARQUET_BYTES, MAX_PARQUET_ROW_GROUP_ROWS, MAX_ROWS
from audience.imports.table import RawTable, Row

BATCH_ROWS = 10_000


def open_parquet(path: Path, max_bytes: int = MAX_PARQUET_BYTES) -> pq.ParquetFile:
    size = path.stat().st_size
    if size > max_bytes:
        raise ImportFileError("too_large", f"Parquet files are limited to {max_bytes // (1024 * 1024)} MB")
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ImportFileError("unreadable", f"not a readable Parquet file: {exc}") from exc
    meta = parquet.metadata
    if meta.num_columns > MAX_COLUMNS:
        raise ImportFileError("too_many_columns", f"{meta.num_columns} columns; at most {MAX_COLUMNS} are accepted")
    if meta.num_rows > MAX_ROWS:
        raise ImportFileError("too_many_rows", f"{meta.num_rows} rows; at most {MAX_ROWS} are accepted")
    for i in range(meta.num_row_groups):
        if meta.row_group(i).num_rows > MAX_PARQUET_ROW_GROUP_ROWS:
            raise ImportFileError(
                "too_large",
                f"row group {i} holds {meta.row_group(i).num_rows} rows; at most {MAX_PARQUET_ROW_GROUP_ROWS}",
            )
    return parquet


def read_parquet(path: Path) -> RawTable:
    parquet = open_parquet(path)
    header = list(parquet.schema_arrow.names)
    for field in parquet.schema_arrow:
        if pa.types.is_struct(field.type) or pa.types.is_map(field.type):
            raise ImportFileError(
                "unsupported_format",
                f"column {field.name!r} is a {field.type}; only scalar and list columns import",
            )
    return RawTable(header=header, rows=_rows(parquet, len(header)), format="parquet")


def _rows(parquet: pq.ParquetFile, width: int) -> Iterator[Row]:
    """One row group at a time, in batches of BATCH_ROWS: memory follows a batch, not the file."""
    row_number = 1
    try:
        for group in range(parquet.metadata.num_row_groups):
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], use_threads=False):
                columns = [batch.column(i).to_pylist() for i in range(width)]
                for values in zip(*columns, strict=True):
                    row_number += 1
                    yield row_number, list(values)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ImportFileError("unreadable", f"Parquet data is damaged after row {row_number}: {exc}") from exc
