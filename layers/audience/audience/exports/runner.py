"""Run one queued job (export, mass update or score reset) exactly once, whatever SQS delivers.

``run_job`` claims the job (see ``jobs.claim``), runs the use case for its kind, and records the
outcome. Errors the user can act on (segment deleted, field gone) fail the job with that message at
once. Anything else (throttling, a network error) is raised so SQS delivers the message again; on
the last delivery SQS allows (``final_attempt``) the job is failed instead, so it never stays
``running`` forever.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from audience.bulk.updates import BulkUpdateFailed, apply_to_members, reset_scores
from audience.errors import DomainError
from audience.exports import jobs
from audience.exports.clients import Clients
from audience.exports.export import ExportFailed, run_export
from audience.exports.request import ExportSpec
from audience.settings import get_settings
from audience.storage import jobs_repo
from audience.storage.records import Job

logger = Logger(child=True)
PAUSE_MARGIN_SECONDS = 60.0  # a page of updates takes seconds; leave a minute to spare
INTERNAL_ERROR = "the job failed repeatedly on an internal error; it was not completed"


def run_job(
    tenant: str,
    job_id: str,
    *,
    final_attempt: bool = False,
    clients: Clients | None = None,
    seconds_left: Callable[[], float] | None = None,
) -> Job | None:
    """Run the job if it is this caller's to run; answers the job as left (finished, or pending
    again when a bulk job paused for a continuation), or None when skipped.

    ``seconds_left`` (the invocation's remaining time) lets bulk jobs pause between pages with
    ``PAUSE_MARGIN_SECONDS`` to spare and continue in a new invocation from their checkpoint.
    """
    job = jobs.claim(tenant, job_id)
    if job is None:
        logger.info("job skipped: finished, unknown, or running elsewhere", tenant_id=tenant, job_id=job_id)
        return None
    clients = clients or Clients(get_settings())
    base = {"attempts": int(job.counts.get("attempts", 1))}
    counts: dict[str, Any] = {}

    def progress(current: dict[str, Any]) -> None:
        counts.update(current)
        jobs.heartbeat(tenant, job_id, {**base, **counts})

    def should_pause() -> bool:
        return seconds_left is not None and seconds_left() < PAUSE_MARGIN_SECONDS

    try:
        counts, result, paused = _run(tenant, job, clients, progress, should_pause)
    except (ExportFailed, BulkUpdateFailed, DomainError) as exc:
        logger.info("job failed", tenant_id=tenant, job_id=job_id, error=str(exc))
        return jobs.fail(tenant, job_id, str(exc), {**base, **counts})
    except Exception:
        if not final_attempt:
            logger.exception("job attempt failed; SQS will deliver it again", tenant_id=tenant, job_id=job_id)
            raise
        logger.exception("job failed on its last attempt", tenant_id=tenant, job_id=job_id)
        return jobs.fail(tenant, job_id, INTERNAL_ERROR, {**base, **counts})
    if paused:
        logger.info("job paused for a continuation", tenant_id=tenant, job_id=job_id, counts=counts)
        if jobs.release(tenant, job_id, {**base, **counts}):
            jobs.requeue(clients.sqs, clients.settings.jobs_queue_url, tenant, job_id, job.kind)
        return jobs_repo.get(tenant, job_id)
    return jobs.succeed(tenant, job_id, {**base, **counts}, result)


def _run(
    tenant: str, job: Job, clients: Clients, progress, should_pause
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(counts, result, paused) of the use case for the job's kind."""
    settings = clients.settings
    resume_from = job.counts if (job.counts.get("checkpoint") and job.kind != jobs.EXPORT) else None
    if job.kind == jobs.EXPORT:
        spec = ExportSpec.model_validate(job.params["spec"])
        outcome = run_export(
            tenant,
            job.job_id,
            job.segment_id or "",
            spec,
            s3=clients.s3,
            bucket=settings.export_bucket,
            on_progress=progress,
        )
        logger.info("export written", tenant_id=tenant, job_id=job.job_id, read_from=outcome.sources)
        result = {"object_key": outcome.object_key, "file_name": outcome.file_name, "read_from": outcome.sources}
        return outcome.counts, result, False
    if job.kind == jobs.MASS_UPDATE:
        bulk = apply_to_members(
            tenant,
            job.segment_id or "",
            job.params["set"],
            ddb=clients.dynamodb,
            contacts_table=settings.contacts_table,
            on_progress=progress,
            should_pause=should_pause,
            resume_from=resume_from,
        )
        return bulk.counts, {}, bulk.paused
    if job.kind == jobs.RESET_SCORE:
        bulk = reset_scores(
            tenant,
            job.job_id,
            job.segment_id or "",
            job.params,
            ddb=clients.dynamodb,
            contacts_table=settings.contacts_table,
            main_table=settings.main_table,
            on_progress=progress,
            should_pause=should_pause,
            resume_from=resume_from,
        )
        return bulk.counts, {}, bulk.paused
    raise ExportFailed(f"unknown job kind {job.kind!r}")
