"""Delta exports (``changes_since``, audience_sha256 only): who joined and who left since a moment,
for an ad platform's customer list, instead of the whole segment.

The member source is the membership history (``storage.membership_history_repo``): each contact's
last change in the segment at or after ``changes_since`` decides its row — ``joined``: ``action =
add``, ``left``: ``action = remove`` (a contact that joined and left again is a remove: the platform
may or may not hold it, removing is always right). Adds pass the export's usual filters
(unsubscribed, suppression, ``updated_since``); removes do not — the platform must drop them whatever
their state. Contacts erased since have no history left and no identifiers to send. The changed ids
are read from one Query of the segment's history since then, so a delta costs reads in proportion
to the churn, not to the segment.
"""

from __future__ import annotations

from typing import Any

from audience.exports.export import (
    EXPORT_COUNTS,
    ExportOutcome,
    Member,
    _page_rows,
    _Selection,
    export_key,
    fetch_contacts,
    open_sink,
)
from audience.exports.request import ExportSpec
from audience.exports.writers.audience_sha256 import AudienceSha256Writer
from audience.storage import membership_history_repo


def changed_members(tenant: str, segment_id: str, since: str) -> tuple[list[str], list[str]]:
    """``(added, removed)`` contact ids, each sorted: each contact's last change since ``since``."""
    latest = membership_history_repo.latest_changes_since(tenant, segment_id, since)
    added = sorted(c for c, change in latest.items() if change == "joined")
    removed = sorted(c for c, change in latest.items() if change == "left")
    return added, removed


def run_delta_export(
    tenant: str,
    job_id: str,
    segment_id: str,
    spec: ExportSpec,
    selection: _Selection,
    *,
    s3: Any,
    bucket: str,
    page_size: int,
    part_size: int | None = None,
) -> ExportOutcome:
    added, removed = changed_members(tenant, segment_id, spec.changes_since or "")
    key = export_key(tenant, job_id, spec.file_name)
    sink = open_sink(s3, bucket, key, spec, part_size)
    counts = {**dict.fromkeys(EXPORT_COUNTS, 0), "added": 0, "removed": 0}
    try:
        writer = AudienceSha256Writer(sink, spec.columns, selection.catalog, action_column=True)
        for first in range(0, len(added), page_size):
            page = [Member(contact_id) for contact_id in added[first : first + page_size]]
            counts["members_read"] += len(page)
            rows = [{**row, "action": "add"} for row in _page_rows(tenant, page, counts, selection)]
            written = writer.write_rows(rows)
            counts["row_count"] += written
            counts["added"] += written
        for first in range(0, len(removed), page_size):
            ids = removed[first : first + page_size]
            contacts = fetch_contacts(tenant, ids)
            rows = [{**contacts[c].as_row(), "action": "remove"} for c in ids if c in contacts]
            counts["missing_contacts"] += len(ids) - len(rows)
            written = writer.write_rows(rows)
            counts["row_count"] += written
            counts["removed"] += written
        writer.close()
        sink.complete()
    except BaseException:
        sink.abort()
        raise
    counts["bytes"] = sink.bytes_written
    return ExportOutcome(object_key=key, file_name=spec.file_name, counts=counts)
