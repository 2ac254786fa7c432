"""Typed Parquet with the project's one column layout (``audience.columnar.contacts_schema``):
numbers float64, dates date32, datetimes UTC timestamps, tags list<string>.

Pages are converted to Arrow as they arrive and buffered until a row group is full, so files have
sensible row groups (readers skip by statistics) while memory holds at most one row group.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from audience.columnar import contacts_schema
from audience.exports.cells import as_text, is_empty
from audience.exports.writers.base import ExportWriter, Row
from audience.fields import FieldType

ROW_GROUP_ROWS = 65_536


class ParquetWriter(ExportWriter):
    def __init__(self, sink, columns, catalog, *, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        super().__init__(sink, columns, catalog)
        full = contacts_schema(catalog)
        self.schema = pa.schema([full.field(name) for name in self.columns])
        self._writer = pq.ParquetWriter(sink, self.schema, compression="zstd")
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._row_group_rows = row_group_rows

    def write_rows(self, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        arrays = [
            pa.array([_convert(row.get(name), self.types[name]) for row in rows], type=field.type)
            for name, field in zip(self.columns, self.schema, strict=True)
        ]
        self._pending.append(pa.Table.from_arrays(arrays, schema=self.schema))
        self._pending_rows += len(rows)
        if self._pending_rows >= self._row_group_rows:
            self._flush()
        return len(rows)

    def write_batch(self, batch: pa.RecordBatch) -> int:
        """A snapshot batch is already in the layout: only the selected columns, in order."""
        if not batch.num_rows:
            return 0
        arrays = []
        for name, field in zip(self.columns, self.schema, strict=True):
            index = batch.schema.get_field_index(name)
            column = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, field.type)
            arrays.append(column if column.type == field.type else column.cast(field.type))
        self._pending.append(pa.Table.from_arrays(arrays, schema=self.schema))
        self._pending_rows += batch.num_rows
        if self._pending_rows >= self._row_group_rows:
            self._flush()
        return batch.num_rows

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.concat_tables(self._pending), row_group_size=self._pending_rows)
            self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()


def _convert(value: Any, kind: FieldType) -> Any:
    """A stored value as the Python object Arrow takes for the column type; unreadable -> null."""
    if is_empty(value):
        return [] if kind is FieldType.LIST and isinstance(value, (list, tuple)) else None
    try:
        if kind is FieldType.NUMBER:
            return None if isinstance(value, bool) else float(value)
        if kind is FieldType.BOOLEAN:
            return value if isinstance(value, bool) else None
        if kind is FieldType.DATE:
            return date.fromisoformat(str(value)[:10])
        if kind is FieldType.DATETIME:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if kind is FieldType.LIST:
            return [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)]
    except (TypeError, ValueError):
        return None
    return as_text(value, kind)
