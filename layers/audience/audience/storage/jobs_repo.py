"""Asynchronous jobs (MainTable ``T#{tenant}`` / ``JOB#{job_id}``): exports, mass updates, score resets.

Status only moves forward: pending -> running -> succeeded | failed; a finished job never changes
again, which makes redelivered queue messages harmless. Import jobs share the key space but are
written by ``audience.imports.jobs``.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from audience.errors import Conflict, NotFound
from audience.storage.base import new_id, now_iso
from audience.storage.models import JobItem, tenant_pk
from audience.storage.paging import condition_failed
from audience.storage.records import Job

PREFIX = "JOB#"
NEXT_STATES = {"pending": ("running", "failed"), "running": ("running", "succeeded", "failed")}


def _record(item: JobItem) -> Job:
    return Job(
        job_id=item.job_id,
        kind=item.kind,
        status=item.status,
        segment_id=item.segment_id,
        params=dict(item.params or {}),
        counts=dict(item.counts or {}),
        result=dict(item.result or {}),
        error=item.error,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def create(tenant: str, kind: str, *, segment_id: str | None = None, params: dict[str, Any] | None = None) -> Job:
    stamp = now_iso()
    job_id = new_id()
    item = JobItem(
        tenant_pk(tenant),
        PREFIX + job_id,
        job_id=job_id,
        kind=kind,
        status="pending",
        segment_id=segment_id,
        params=params or {},
        counts={},
        result={},
        created_at=stamp,
        updated_at=stamp,
    )
    item.save(condition=JobItem.pk.does_not_exist())
    return _record(item)


def find(tenant: str, job_id: str, kind: str | None = None) -> Job | None:
    """The job, or None if absent or (when ``kind`` is given) of another kind."""
    try:
        item = JobItem.get(tenant_pk(tenant), PREFIX + job_id, consistent_read=True)
    except DoesNotExist:
        return None
    if kind is not None and item.kind != kind:
        return None
    return _record(item)


def get(tenant: str, job_id: str, kind: str | None = None) -> Job:
    job = find(tenant, job_id, kind)
    if job is None:
        raise NotFound(f"job {job_id!r} not found")
    return job


def update_status(
    tenant: str,
    job_id: str,
    status: str,
    *,
    counts: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> Job:
    """Move the job to ``status`` (only forward; Conflict otherwise) and record counts/result/error."""
    allowed = [state for state, nexts in NEXT_STATES.items() if status in nexts]
    if not allowed:
        raise ValueError(f"cannot move a job to {status!r}")
    actions = [JobItem.status.set(status), JobItem.updated_at.set(now_iso())]
    if counts is not None:
        actions.append(JobItem.counts.set(counts))
    if result is not None:
        actions.append(JobItem.result.set(result))
    if error is not None:
        actions.append(JobItem.error.set(error))
    try:
        data = JobItem._get_connection().update_item(
            tenant_pk(tenant),
            range_key=PREFIX + job_id,
            actions=actions,
            condition=JobItem.pk.exists() & JobItem.status.is_in(*allowed),
            return_values="ALL_NEW",
        )
    except UpdateError as exc:
        if condition_failed(exc):
            current = get(tenant, job_id)
            raise Conflict(f"job {job_id!r} is {current.status}; it cannot become {status}") from exc
        raise
    return _record(JobItem.from_raw_data(data["Attributes"]))
