"""Writing one chunk of an import job, counting it into the job once, and ending the job once.

Each chunk adds its figures to the job with one conditional update that also records the chunk's
number, so a re-delivered chunk counts nothing twice (its writes are idempotent: contacts created
by the job have ids derived from the job and row, and unchanged rows are not written again). The
update returns the job; whoever sees every chunk counted — the last chunk, or the split when the
chunks were faster — assembles the report and moves the job to ``succeeded`` (``failed`` when a
chunk gave up), conditioned on ``running``, so the job ends exactly once.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from audience.imports.chunks import Chunk, chunk_key, report_part_key, report_part_prefix
from audience.imports.collapse import collapse
from audience.imports.contact_writer import ContactWriter
from audience.imports.jobs import ImportJob, JobStore
from audience.imports.report import RejectReport, assemble
from audience.imports.rows import RejectRecord
from audience.imports.segment_membership import add_to_static_segment, load_static_segment

logger = logging.getLogger(__name__)

MAX_CHUNK_RECEIVES = 3  # ImportChunksQueue's maxReceiveCount in template.yaml


def report_key(tenant_id: str, job_id: str) -> str:
    return f"tenants/{tenant_id}/reports/{job_id}/report.csv"


def job_store(services: Any) -> JobStore:
    return JobStore(services.ddb, services.settings.main_table)


def write_chunk(services: Any, job: ImportJob, chunk: Chunk) -> ImportJob:
    """Write the chunk's contacts, store its report part, count it; end the job if it was the last."""
    report = RejectReport()
    report.add(chunk.report)
    candidates, duplicates = collapse(chunk.rows)
    report.add(duplicates)
    writer = ContactWriter(job.tenant_id, job.job_id)
    created = updated = 0
    imported_ids: list[str] = []
    for written in writer.write_all(candidates):
        if written.reject is not None:
            first = written.candidate.rows[0]
            report.add([written.reject])
            report.add(RejectRecord(r, "", "", f"same contact as row {first}") for r in written.candidate.rows[1:])
            continue
        assert written.contact_id is not None
        imported_ids.append(written.contact_id)
        if written.created:
            created += 1
        else:
            updated += 1
    if job.segment_id and imported_ids:
        add_to_static_segment(job.tenant_id, load_static_segment(job.tenant_id, job.segment_id), imported_ids)
    if report.lines:
        services.s3.put_object(
            Bucket=services.settings.data_bucket,
            Key=report_part_key(job.tenant_id, job.job_id, chunk.index),
            Body=report.part().encode("utf-8"),
        )
    counts = {
        "rows_processed": chunk.rows_read,
        "rows_rejected": len(report.rows),
        "values_dropped": len(report.rows_with_dropped_values),
        "contacts_created": created,
        "contacts_updated": updated,
    }
    jobs = job_store(services)
    counted = jobs.count_chunk(job, chunk.index, counts)
    return finish_if_done(services, counted or jobs.get(job.tenant_id, job.job_id) or job)


def give_up_chunk(services: Any, job: ImportJob, index: int) -> ImportJob:
    """The chunk failed its last delivery: count it as failed so the job still ends (``failed``)."""
    jobs = job_store(services)
    counted = jobs.count_chunk(job, index, {}, failed=True)
    return finish_if_done(services, counted or jobs.get(job.tenant_id, job.job_id) or job)


def finish_if_done(services: Any, job: ImportJob) -> ImportJob:
    if job.status != "running" or job.chunks_total is None or job.chunks_done < job.chunks_total:
        return job
    key = _assemble_report(services, job)
    changes: dict[str, Any] = {
        "rows_read": job.rows_read,
        "rows_processed": job.rows_processed,
        "rows_imported": job.rows_processed - job.rows_rejected,
        "report_key": key,
        "error": None,
        "error_code": None,
    }
    status = "succeeded"
    if job.chunks_failed:
        status = "failed"
        changes["error"] = (
            f"{job.chunks_failed} of {job.chunks_total} chunks failed unexpectedly and their rows were not "
            "imported; import the file again (rows already imported are matched, not duplicated)"
        )
        changes["error_code"] = "internal"
    try:
        return job_store(services).finish(job, status, **changes)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("import job already ended", extra={"job_id": job.job_id})
        return job_store(services).get(job.tenant_id, job.job_id) or job


def _assemble_report(services: Any, job: ImportJob) -> str | None:
    """Concatenate the chunks' report parts in chunk order into the job's one report."""
    s3, bucket = services.s3, services.settings.data_bucket
    keys: list[str] = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=report_part_prefix(job.tenant_id, job.job_id)
    )
    for page in pages:
        keys += [o["Key"] for o in page.get("Contents", [])]
    if not keys:
        return None
    parts = [s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode("utf-8") for k in sorted(keys)]
    key = report_key(job.tenant_id, job.job_id)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=assemble(parts),
        ContentType="text/csv; charset=utf-8",
        ContentDisposition=f'attachment; filename="import-report-{job.job_id}.csv"',
    )
    return key


def stored_chunk(services: Any, job: ImportJob, index: int) -> bytes | None:
    try:
        answer = services.s3.get_object(
            Bucket=services.settings.data_bucket, Key=chunk_key(job.tenant_id, job.job_id, index)
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    return answer["Body"].read()
