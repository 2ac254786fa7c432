"""Appending to the event log: one object per batch, whatever days its events span.

The object is named by the batch id, so the same source appended twice rewrites the same object
instead of adding duplicates (and compaction skips a batch it already folded in, ``merged``).
Rows are sorted by contact, then time, so a reader's contact-range push-down prunes row groups even
before compaction.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq

from audience.columnar import EVENTS_SCHEMA
from audience.eventlog.layout import incoming_key
from audience.settings import get_settings

ROW_GROUP_ROWS = 131_072  # rows per Parquet row group: the unit of push-down and of a streamed batch
SORT_KEYS = [("contact_id", "ascending"), ("occurred_at", "ascending")]


def events_table(rows: Iterable[tuple[str, str, datetime, dict[str, str]]]) -> pa.Table:
    """An EVENTS_SCHEMA table from (contact_id, event, occurred_at UTC, properties) tuples."""
    contact_ids, names, times, props = [], [], [], []
    for contact_id, event, occurred_at, properties in rows:
        contact_ids.append(contact_id)
        names.append(event)
        times.append(occurred_at)
        props.append(list(properties.items()))
    return pa.Table.from_arrays(
        [
            pa.array(contact_ids, pa.string()),
            pa.array(names, pa.string()),
            pa.array(times, EVENTS_SCHEMA.field("occurred_at").type),
            pa.array(props, EVENTS_SCHEMA.field("properties").type),
        ],
        schema=EVENTS_SCHEMA,
    )


def parquet_bytes(table: pa.Table) -> bytes:
    """The log's object format: zstd, row groups of ROW_GROUP_ROWS, statistics for push-down."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", row_group_size=ROW_GROUP_ROWS, write_statistics=True)
    return sink.getvalue()


def append_events(tenant_id: str, table: pa.Table, s3, batch_id: str, bucket: str | None = None) -> list[str]:
    """Write ``table`` into the log as one object; returns the keys written (none for no rows)."""
    bucket = bucket or get_settings().data_bucket
    table = table.cast(EVENTS_SCHEMA)
    if table.num_rows == 0:
        return []
    key = incoming_key(tenant_id, batch_id)
    s3.put_object(Bucket=bucket, Key=key, Body=parquet_bytes(table.sort_by(SORT_KEYS)))
    return [key]
