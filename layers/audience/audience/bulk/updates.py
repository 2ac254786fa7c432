"""The bulk-update use cases: mass update and score reset over a segment's members.

Both walk the segment's stored membership a page at a time (what ``GET /segments/{id}/members``
shows, for static and dynamic segments alike) and set the fields on each member contact. Setting a
value is idempotent, so a job retaken after a crash simply runs again from the first page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from audience.bulk import audit
from audience.bulk.contact_updates import set_fields
from audience.exports.export import member_pages
from audience.storage import segments_repo

PAGE_SIZE = 500
PROGRESS_EVERY_SECONDS = 5.0


class BulkUpdateFailed(Exception):
    """The job cannot run for a reason the user can act on (the job's ``error``)."""


def apply_to_members(
    tenant: str,
    segment_id: str,
    changes: dict[str, Any],
    *,
    ddb: Any,
    contacts_table: str,
    on_progress: Callable[[dict[str, int]], None] = lambda counts: None,
    page_size: int = PAGE_SIZE,
    counts: dict[str, int] | None = None,
) -> dict[str, int]:
    """Set ``changes`` on every member contact; answers the counts (kept up to date in ``counts``,
    so a caller that sees an exception still knows how far it got)."""
    if segments_repo.find(tenant, segment_id) is None:
        raise BulkUpdateFailed(f"segment {segment_id!r} no longer exists")
    counts = counts if counts is not None else {}
    for name in ("members_read", "contacts_updated", "contacts_skipped"):
        counts.setdefault(name, 0)
    last_report = time.monotonic()
    for memberships in member_pages(tenant, segment_id, page_size):
        updated, skipped = set_fields(
            ddb, contacts_table, tenant, [m.contact_id for m in memberships], changes
        )
        counts["members_read"] += len(memberships)
        counts["contacts_updated"] += updated
        counts["contacts_skipped"] += skipped
        if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
            on_progress(dict(counts))
            last_report = time.monotonic()
    return counts


def reset_scores(
    tenant: str,
    job_id: str,
    segment_id: str,
    params: dict[str, Any],
    *,
    ddb: Any,
    contacts_table: str,
    main_table: str,
    on_progress: Callable[[dict[str, int]], None] = lambda counts: None,
    page_size: int = PAGE_SIZE,
) -> dict[str, int]:
    """Score 0 for every member, then the audit record (also written when the reset fails midway)."""
    counts: dict[str, int] = {"members_read": 0, "contacts_updated": 0, "contacts_skipped": 0}

    def write_audit(outcome: str, detail: dict[str, Any] | None = None) -> None:
        audit.record(
            ddb,
            main_table,
            tenant,
            action="reset_score",
            job_id=job_id,
            segment_id=segment_id,
            requested_by=params.get("requested_by") or {},
            requested_at=params.get("requested_at") or "",
            reason=params.get("reason") or "",
            outcome=outcome,
            contacts_updated=counts["contacts_updated"],
            detail=detail,
        )

    try:
        apply_to_members(
            tenant,
            segment_id,
            {"score": 0},
            ddb=ddb,
            contacts_table=contacts_table,
            on_progress=on_progress,
            page_size=page_size,
            counts=counts,
        )
    except Exception as exc:
        write_audit("failed", {"error": str(exc)[:500]})
        raise
    write_audit("succeeded")
    return counts
