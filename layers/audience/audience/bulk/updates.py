"""The bulk-update use cases: mass update and score reset over a segment's members.

Both walk the segment's stored membership a page at a time (what ``GET /segments/{id}/members``
shows, for static and dynamic segments alike) and set the fields on each member contact. Setting a
value is idempotent, so redoing a page after a crash is harmless. Progress carries a *checkpoint*
(the contact id the next page starts after): a job retaken after a crash, or paused because its
invocation is running out of time (``should_pause``), resumes there instead of starting over — a
million-member segment may need more than one 15-minute invocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audience.bulk import audit
from audience.bulk.contact_updates import set_fields
from audience.exports.export import member_pages
from audience.storage import segments_repo

PAGE_SIZE = 500
PROGRESS_EVERY_SECONDS = 5.0
COUNT_NAMES = ("members_read", "contacts_updated", "contacts_skipped")


class BulkUpdateFailed(Exception):
    """The job cannot run for a reason the user can act on (the job's ``error``)."""


@dataclass
class BulkOutcome:
    counts: dict[str, Any]  # the COUNT_NAMES, plus "checkpoint" when paused
    paused: bool = False


def apply_to_members(
    tenant: str,
    segment_id: str,
    changes: dict[str, Any],
    *,
    ddb: Any,
    contacts_table: str,
    on_progress: Callable[[dict[str, Any]], None] = lambda counts: None,
    should_pause: Callable[[], bool] = lambda: False,
    resume_from: dict[str, Any] | None = None,
    page_size: int = PAGE_SIZE,
) -> BulkOutcome:
    """Set ``changes`` on every member contact, from ``resume_from`` (counts and checkpoint of an
    earlier run) if given; pauses between pages when ``should_pause()`` says so."""
    if segments_repo.find(tenant, segment_id) is None:
        raise BulkUpdateFailed(f"segment {segment_id!r} no longer exists")
    resume_from = resume_from or {}
    counts: dict[str, Any] = {name: int(resume_from.get(name, 0)) for name in COUNT_NAMES}
    after = (resume_from.get("checkpoint") or {}).get("after")
    last_report = time.monotonic()
    for memberships, next_after in member_pages(tenant, segment_id, page_size, after=after):
        updated, skipped = set_fields(ddb, contacts_table, tenant, [m.contact_id for m in memberships], changes)
        counts["members_read"] += len(memberships)
        counts["contacts_updated"] += updated
        counts["contacts_skipped"] += skipped
        if next_after is None:
            break
        counts["checkpoint"] = {"after": next_after}
        if should_pause():
            return BulkOutcome(counts, paused=True)
        if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
            on_progress(dict(counts))
            last_report = time.monotonic()
    counts.pop("checkpoint", None)
    return BulkOutcome(counts)


def reset_scores(
    tenant: str,
    job_id: str,
    segment_id: str,
    params: dict[str, Any],
    *,
    ddb: Any,
    contacts_table: str,
    main_table: str,
    on_progress: Callable[[dict[str, Any]], None] = lambda counts: None,
    should_pause: Callable[[], bool] = lambda: False,
    resume_from: dict[str, Any] | None = None,
    page_size: int = PAGE_SIZE,
) -> BulkOutcome:
    """Score 0 for every member, then the audit record (also written when the reset fails midway)."""
    latest: dict[str, Any] = dict(resume_from or {})

    def progress(counts: dict[str, Any]) -> None:
        latest.update(counts)
        on_progress(counts)

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
            contacts_updated=int(latest.get("contacts_updated", 0)),
            detail=detail,
        )

    try:
        outcome = apply_to_members(
            tenant,
            segment_id,
            {"score": 0},
            ddb=ddb,
            contacts_table=contacts_table,
            on_progress=progress,
            should_pause=should_pause,
            resume_from=resume_from,
            page_size=page_size,
        )
    except Exception as exc:
        write_audit("failed", {"error": str(exc)[:500]})
        raise
    latest.update(outcome.counts)
    if not outcome.paused:
        write_audit("succeeded")
    return outcome
