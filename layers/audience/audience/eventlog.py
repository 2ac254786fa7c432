"""The tenant's activity event log: Parquet files in DATA_BUCKET under
``tenants/{tenant}/eventlog/{yyyy-mm-dd}/{batch_id}.parquet`` (EVENTS_SCHEMA), one folder per UTC day
the events occurred on, so readers can skip days before ``since``.

Appends are idempotent per ``batch_id``: the same source processed twice rewrites the same objects
instead of adding duplicates.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from audience.columnar import EVENTS_SCHEMA
from audience.settings import get_settings

FETCH_THREADS = 8


def eventlog_prefix(tenant_id: str) -> str:
    return f"tenants/{tenant_id}/eventlog/"


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


def append_events(tenant_id: str, table: pa.Table, s3, batch_id: str, bucket: str | None = None) -> list[str]:
    """Write ``table`` into the log, one object per UTC day; returns the keys written."""
    bucket = bucket or get_settings().data_bucket
    table = table.cast(EVENTS_SCHEMA)
    if table.num_rows == 0:
        return []
    days = pc.cast(pc.cast(table["occurred_at"], pa.timestamp("us")), pa.date32())
    keys = []
    for day in pc.unique(days).to_pylist():
        part = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        key = f"{eventlog_prefix(tenant_id)}{day.isoformat()}/{batch_id}.parquet"
        buf = io.BytesIO()
        pq.write_table(part, buf, compression="zstd")
        s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
        keys.append(key)
    return keys


def read_events(tenant_id: str, s3, since: datetime | None = None, bucket: str | None = None) -> pa.Table:
    """Every logged event of the tenant (occurred at or after ``since`` when given), EVENTS_SCHEMA."""
    bucket = bucket or get_settings().data_bucket
    prefix = eventlog_prefix(tenant_id)
    since_day: date | None = since.astimezone(UTC).date() if since else None
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            day = _day(key[len(prefix) :].split("/", 1)[0])
            if key.endswith(".parquet") and not (since_day and day and day < since_day):
                keys.append(key)

    def fetch(key: str) -> pa.Table:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return pq.read_table(io.BytesIO(body), schema=EVENTS_SCHEMA)

    # Many small objects (one per day and batch): fetch them concurrently, keep key order.
    with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
        tables = list(pool.map(fetch, keys))
    if not tables:
        return EVENTS_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    if since is not None:
        table = table.filter(
            pc.greater_equal(table["occurred_at"], pa.scalar(since.astimezone(UTC), table["occurred_at"].type))
        )
    return table


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
