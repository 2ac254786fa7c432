"""The jobs the exporter function runs — exports, mass updates, score resets — on top of
``storage.jobs_repo``: queueing, claiming a job exactly once, progress, and the public view.

Redelivery (SQS is at-least-once) is made harmless by the job item itself: a job is *claimed* by a
conditional write that succeeds only if it is ``pending``, or ``running`` with a stale heartbeat
(its ``updated_at`` older than ``LEASE_SECONDS``, longer than any Lambda can live, so its runner is
certainly dead). A finished job is never claimed again, so a succeeded export is not redone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from audience.errors import NotFound
from audience.storage import jobs_repo
from audience.storage.base import now_iso
from audience.storage.models import JobItem, tenant_pk
from audience.storage.paging import condition_failed
from audience.storage.records import Job

EXPORT = "export"
MASS_UPDATE = "mass_update"
RESET_SCORE = "reset_score"
KINDS = (EXPORT, MASS_UPDATE, RESET_SCORE)
INTERNAL_COUNTS = frozenset({"attempts", "checkpoint"})
# Lambda runs at most 900 s; a running job silent for longer than this has lost its runner.
LEASE_SECONDS = 960


def create_and_enqueue(
    sqs: Any, queue_url: str, tenant: str, kind: str, segment_id: str, params: dict[str, Any]
) -> Job:
    """Store a pending job, then queue it; a job whose message cannot be sent is marked failed."""
    job = jobs_repo.create(tenant, kind, segment_id=segment_id, params=params)
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody=message_body(tenant, job.job_id, kind))
    except Exception:
        jobs_repo.update_status(tenant, job.job_id, "failed", error="the job could not be queued; try again")
        raise
    return job


def message_body(tenant: str, job_id: str, kind: str) -> str:
    return json.dumps({"tenant_id": tenant, "job_id": job_id, "kind": kind})


def claim(tenant: str, job_id: str, *, now: datetime | None = None) -> Job | None:
    """Take the job to run it: pending, or running with a stale heartbeat. None: nothing to do."""
    now = now or datetime.now(UTC)
    stale_before = (now - timedelta(seconds=LEASE_SECONDS)).isoformat(timespec="milliseconds")
    stale_before = stale_before.replace("+00:00", "Z")
    job = jobs_repo.find(tenant, job_id)
    if job is None or job.kind not in KINDS:
        return None
    attempts = int(job.counts.get("attempts", 0)) + 1
    try:
        JobItem._get_connection().update_item(
            tenant_pk(tenant),
            range_key=jobs_repo.PREFIX + job_id,
            actions=[
                JobItem.status.set("running"),
                JobItem.updated_at.set(now_iso()),
                # Counts (and a bulk job's checkpoint) survive: a continuation resumes from them.
                JobItem.counts.set({**job.counts, "attempts": attempts}),
            ],
            condition=(JobItem.status == "pending")
            | ((JobItem.status == "running") & (JobItem.updated_at < stale_before)),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return jobs_repo.find(tenant, job_id)


def release(tenant: str, job_id: str, counts: dict[str, Any]) -> bool:
    """running -> pending with its checkpoint, so a continuation message can claim it at once."""
    try:
        JobItem._get_connection().update_item(
            tenant_pk(tenant),
            range_key=jobs_repo.PREFIX + job_id,
            actions=[
                JobItem.status.set("pending"),
                JobItem.updated_at.set(now_iso()),
                JobItem.counts.set(counts),
            ],
            condition=JobItem.status == "running",
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def requeue(sqs: Any, queue_url: str, tenant: str, job_id: str, kind: str) -> None:
    """Queue a continuation of a released job."""
    sqs.send_message(QueueUrl=queue_url, MessageBody=message_body(tenant, job_id, kind))


def heartbeat(tenant: str, job_id: str, counts: dict[str, Any]) -> None:
    """Record progress; refreshing ``updated_at`` keeps the lease."""
    jobs_repo.update_status(tenant, job_id, "running", counts=counts)


def succeed(tenant: str, job_id: str, counts: dict[str, Any], result: dict[str, Any]) -> Job:
    return jobs_repo.update_status(tenant, job_id, "succeeded", counts=counts, result=result)


def fail(tenant: str, job_id: str, error: str, counts: dict[str, Any] | None = None) -> Job:
    return jobs_repo.update_status(tenant, job_id, "failed", counts=counts, error=error)


def get(tenant: str, job_id: str, kinds: tuple[str, ...] = KINDS) -> Job:
    """The job if it is one of ``kinds``; NotFound otherwise (including another tenant's)."""
    job = jobs_repo.find(tenant, job_id)
    if job is None or job.kind not in kinds:
        raise NotFound(f"job {job_id!r} not found")
    return job


def public_view(job: Job) -> dict[str, Any]:
    """SPEC §3 job shape: ``job_id``, ``status`` (+ ``error``), the counts, no internal fields."""
    body: dict[str, Any] = {
        "job_id": job.job_id,
        "kind": job.kind,
        "status": job.status,
        "segment_id": job.segment_id,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }
    body.update({k: v for k, v in job.counts.items() if k not in INTERNAL_COUNTS})
    if job.error is not None:
        body["error"] = job.error
    return body
