"""Which batch an event object is, and its status record (``storage.eventlog_repo``).

An object staged by POST /events (``tenants/{t}/events/api/{day}/{batch_id}.jsonl``) finishes the
batch the API created ``pending``: its errors are indexed by the event's position in the request
(0-based). Any other event file is its own batch, named by its object key below the tenant
(``events/...``), its errors indexed by line (row) number in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from audience.imports.rows import RejectRecord
from audience.storage import eventlog_repo


@dataclass(frozen=True)
class BatchName:
    tenant_id: str
    batch_id: str
    source: str  # "api" | "file"

    def index(self, line: int) -> int:
        """An error's index: the event's position in an API request, the line of a file."""
        return line - 1 if self.source == "api" else line


def batch_name(object_key: str) -> BatchName:
    parts = object_key.split("/")
    tenant = parts[1]
    if len(parts) == 6 and parts[2:4] == ["events", "api"] and parts[5].endswith(".jsonl"):
        return BatchName(tenant, PurePosixPath(parts[5]).stem, "api")
    return BatchName(tenant, "/".join(parts[2:]), "file")


def record_outcome(name: BatchName, *, read: int, ingested: int, rejects: list[RejectRecord],
                   refused: str | None = None) -> eventlog_repo.EventBatch:
    """``ingested`` when any event was appended (possibly with some rejected), ``failed`` when the
    file was refused whole or every event was rejected."""
    by_row: dict[int, list[str]] = {}
    for reject in rejects:
        by_row.setdefault(reject.row, []).append(f"{reject.column}: {reject.reason}" if reject.column
                                                 else reject.reason)
    errors = [{"index": name.index(row), "message": "; ".join(messages)} for row, messages in sorted(by_row.items())]
    if refused is not None:
        errors.insert(0, {"index": None, "message": refused})
    rejected = max(read - ingested, len(by_row))
    status = "failed" if refused is not None or (ingested == 0 and rejected) else "ingested"
    return eventlog_repo.finish(name.tenant_id, name.batch_id, status=status, accepted=max(read, ingested + rejected),
                                ingested=ingested, rejected=rejected, errors=errors, source=name.source)
