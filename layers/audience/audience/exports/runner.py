"""Run one queued job (export, mass update or score reset) exactly once, whatever SQS delivers.

``run_job`` claims the job (see ``jobs.claim``), runs the use case for its kind, and records the
outcome. Errors the user can act on (segment deleted, field gone) fail the job with that message at
once. Anything else (throttling, a network error) is raised so SQS delivers the message again; on
the last delivery SQS allows (``final_attempt``) the job is failed instead, so it never stays
``running`` forever.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from audience.bulk.updates import BulkUpdateFailed, apply_to_members, reset_scores
from audience.errors import DomainError
from audience.exports import jobs
from audience.exports.clients import Clients
from audience.exports.export import ExportFailed, run_export
from audience.exports.request import ExportSpec
from audience.settings import get_settings
from audience.storage.records import Job

logger = Logger(child=True)
INTERNAL_ERROR = "the job failed repeatedly on an internal error; it was not completed"


def run_job(
    tenant: str, job_id: str, *, final_attempt: bool = False, clients: Clients | None = None
) -> Job | None:
    """Run the job if it is this caller's to run; answers the finished job, or None when skipped."""
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

    try:
        counts, result = _run(tenant, job, clients, progress)
    except (ExportFailed, BulkUpdateFailed, DomainError) as exc:
        logger.info("job failed", tenant_id=tenant, job_id=job_id, error=str(exc))
        return jobs.fail(tenant, job_id, str(exc), {**base, **counts})
    except Exception:
        if not final_attempt:
            logger.exception("job attempt failed; SQS will deliver it again", tenant_id=tenant, job_id=job_id)
            raise
        logger.exception("job failed on its last attempt", tenant_id=tenant, job_id=job_id)
        return jobs.fail(tenant, job_id, INTERNAL_ERROR, {**base, **counts})
    return jobs.succeed(tenant, job_id, {**base, **counts}, result)


def _run(tenant: str, job: Job, clients: Clients, progress) -> tuple[dict[str, Any], dict[str, Any]]:
    settings = clients.settings
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
        return outcome.counts, {"object_key": outcome.object_key, "file_name": outcome.file_name}
    if job.kind == jobs.MASS_UPDATE:
        counts = apply_to_members(
            tenant,
            job.segment_id or "",
            job.params["set"],
            ddb=clients.dynamodb,
            contacts_table=settings.contacts_table,
            on_progress=progress,
        )
        return counts, {}
    if job.kind == jobs.RESET_SCORE:
        counts = reset_scores(
            tenant,
            job.job_id,
            job.segment_id or "",
            job.params,
            ddb=clients.dynamodb,
            contacts_table=settings.contacts_table,
            main_table=settings.main_table,
            on_progress=progress,
        )
        return counts, {}
    raise ExportFailed(f"unknown job kind {job.kind!r}")
