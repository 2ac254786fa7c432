"""A job's chunks: consecutive validated rows of one file, written by one importer invocation each.

The upload's invocation reads and validates the file once, in file order, and cuts it into chunks
of ``CHUNK_ROWS`` rows. A file of one chunk is written right there; otherwise each chunk is stored
as gzipped JSON in the data bucket (never under the import bucket's prefixes, so nothing triggers
the importer) and announced on ``ImportChunksQueue``; the trust is in the job: a chunk message only
names tenant, job and chunk number, and the object key is derived from them.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from audience.imports.rows import ContactRow, RejectRecord

CHUNK_ROWS = 5_000
CHUNK_MESSAGE_KIND = "import_chunk"


@dataclass
class Chunk:
    index: int
    rows_read: int = 0
    rows: list[ContactRow] = field(default_factory=list)
    report: list[RejectRecord] = field(default_factory=list)


def chunk_key(tenant_id: str, job_id: str, index: int) -> str:
    return f"tenants/{tenant_id}/import-chunks/{job_id}/{index:06d}.json.gz"


def report_part_prefix(tenant_id: str, job_id: str) -> str:
    return f"tenants/{tenant_id}/reports/{job_id}/parts/"


def report_part_key(tenant_id: str, job_id: str, index: int) -> str:
    return f"{report_part_prefix(tenant_id, job_id)}{index:06d}.csv"


def chunk_message(tenant_id: str, job_id: str, index: int) -> dict[str, Any]:
    return {"kind": CHUNK_MESSAGE_KIND, "tenant_id": tenant_id, "job_id": job_id, "chunk": index}


def is_chunk_message(body: Any) -> bool:
    return isinstance(body, dict) and body.get("kind") == CHUNK_MESSAGE_KIND


def dump(chunk: Chunk) -> bytes:
    document = {
        "index": chunk.index,
        "rows_read": chunk.rows_read,
        "rows": [[r.row, r.fields, r.created_at] for r in chunk.rows],
        "report": [[r.row, r.column, r.value, r.reason, r.action] for r in chunk.report],
    }
    return gzip.compress(json.dumps(document, separators=(",", ":")).encode("utf-8"), compresslevel=3)


def load(data: bytes) -> Chunk:
    document = json.loads(gzip.decompress(data))
    return Chunk(
        index=int(document["index"]),
        rows_read=int(document["rows_read"]),
        rows=[ContactRow(row, fields, created_at) for row, fields, created_at in document["rows"]],
        report=[RejectRecord(*line) for line in document["report"]],
    )
