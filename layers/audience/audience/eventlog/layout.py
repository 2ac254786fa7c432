"""Where a tenant's event log lives in DATA_BUCKET, and its manifest.

::

    tenants/{t}/eventlog/incoming/{batch_id}.parquet         one object per appended batch
    tenants/{t}/eventlog/parts/{yyyy-mm}/{generation}-{n}.parquet   compacted: one month, sorted by
                                                             contact then time, cut at PART_BYTES
    tenants/{t}/eventlog/manifest.json                       the compacted parts and the incoming
                                                             objects already folded into them

The manifest is the log's only mutable object and is swapped with a conditional PUT (``If-Match`` its
ETag), so two compactions never both win. A reader takes the manifest once: its parts plus every
incoming object it does not list as merged are the log.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

MANIFEST = "manifest.json"


def eventlog_prefix(tenant_id: str) -> str:
    return f"tenants/{tenant_id}/eventlog/"


def incoming_prefix(tenant_id: str) -> str:
    return f"{eventlog_prefix(tenant_id)}incoming/"


def parts_prefix(tenant_id: str) -> str:
    return f"{eventlog_prefix(tenant_id)}parts/"


def incoming_key(tenant_id: str, batch_id: str) -> str:
    return f"{incoming_prefix(tenant_id)}{batch_id}.parquet"


def manifest_key(tenant_id: str) -> str:
    return eventlog_prefix(tenant_id) + MANIFEST


def month_of(instant: datetime | date) -> str:
    return f"{instant.year:04d}-{instant.month:02d}"


def month_end(month: str) -> datetime:
    """The first instant after ``month`` (``yyyy-mm``)."""
    year, number = int(month[:4]), int(month[5:7])
    return datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)


def month_start(month: str) -> datetime:
    return datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=UTC)


@dataclass
class Part:
    """One compacted object: the events of ``month`` for contacts ``min_contact``..``max_contact``."""

    key: str
    month: str
    rows: int
    bytes: int
    min_contact: str
    max_contact: str


@dataclass
class LogManifest:
    tenant_id: str
    generation: int = 0
    updated_at: str | None = None
    parts: list[Part] = field(default_factory=list)
    merged: dict[str, str] = field(default_factory=dict)  # incoming key -> when it was folded into parts
    etag: str | None = None  # of the object read; None: no manifest yet

    def to_json(self) -> bytes:
        document = asdict(self)
        document.pop("etag")
        return json.dumps(document, sort_keys=True).encode()

    @classmethod
    def from_json(cls, body: bytes, etag: str | None) -> LogManifest:
        document: dict[str, Any] = json.loads(body)
        parts = [Part(**p) for p in document.pop("parts", [])]
        return cls(**document, parts=parts, etag=etag)


def load_manifest(tenant_id: str, s3, bucket: str) -> LogManifest:
    """The tenant's current log manifest (an empty one when the log was never compacted)."""
    try:
        found = s3.get_object(Bucket=bucket, Key=manifest_key(tenant_id))
    except s3.exceptions.NoSuchKey:
        return LogManifest(tenant_id)
    return LogManifest.from_json(found["Body"].read(), found.get("ETag"))


def list_keys(s3, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every object under ``prefix``: ``{"Key", "Size", "LastModified"}``."""
    found: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += page.get("Contents", [])
    return found
