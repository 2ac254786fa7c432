"""The import use cases: a contacts file uploaded for a job, and an activity events file.

Trust comes only from the object key: ``tenants/{tenant}/imports/{job_id}/{file}`` must name a job
of that tenant recorded for exactly that key. Nothing is ever written under the import prefixes
(reports go to the data bucket), so the importer cannot trigger itself.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from dataclasses import dataclass
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Any

from audience.eventlog import append_events
from audience.imports import chunks
from audience.imports.chunk_runner import (
    MAX_CHUNK_RECEIVES,
    finish_if_done,
    give_up_chunk,
    stored_chunk,
    write_chunk,
)
from audience.imports.chunks import CHUNK_ROWS, Chunk, chunk_key, chunk_message
from audience.imports.coercion import CoercionOptions
from audience.imports.errors import ImportFileError
from audience.imports.event_batches import batch_name, record_outcome
from audience.imports.event_files import read_event_file
from audience.imports.jobs import ImportJob, JobStore, max_upload_bytes, parse_upload_key
from audience.imports.mapping import MappingError, map_columns
from audience.imports.readers import read_table
from audience.imports.report import RejectReport
from audience.imports.rows import COLUMN_IGNORED, RejectRecord, RowOutcome, validate_rows
from audience.imports.segment_membership import load_static_segment
from audience.settings import Settings
from audience.storage import fields_repo, tenants_repo

logger = logging.getLogger(__name__)

EVENT_BATCH_NAMESPACE = uuid.UUID("6f1c2f0e-3d7b-4a8e-9a55-0c3f7f1d2b10")


@dataclass
class ImportServices:
    ddb: Any
    s3: Any
    settings: Settings
    sqs: Any = None  # needed to queue the chunks of a file larger than one chunk


class UnexpectedImportFailure(RuntimeError):
    """Raised after the job is marked failed so the message is retried and ends in the DLQ."""


def tenant_options(job: ImportJob) -> CoercionOptions:
    """The job's own conventions, else the tenant's default phone region, else US / m/d/Y."""
    defaults = CoercionOptions()
    region = job.default_region
    if region is None:
        tenant = tenants_repo.get_tenant(job.tenant_id)
        region = tenant.default_region if tenant else None
    return CoercionOptions(
        date_order=job.date_order or defaults.date_order, default_region=region or defaults.default_region
    )


def handle_object(services: ImportServices, bucket: str, object_key: str, etag: str, size: int) -> str:
    """Route one created object; returns what was done (for logs)."""
    parts = object_key.split("/")
    area = parts[2] if len(parts) > 3 and parts[0] == "tenants" and parts[1] else None
    if area == "imports":
        job = handle_upload(services, bucket, object_key, etag, size)
        return f"import job {job.job_id}: {job.status}" if job else "ignored"
    if area == "events":
        return handle_event_file(services, bucket, object_key, etag, size)
    logger.warning("object outside the import prefixes ignored", extra={"key": object_key})
    return "ignored"


def handle_upload(services: ImportServices, bucket: str, object_key: str, etag: str, size: int) -> ImportJob | None:
    parsed = parse_upload_key(object_key)
    if parsed is None:
        logger.warning("not an import upload key", extra={"key": object_key})
        return None
    tenant_id, job_id, _ = parsed
    jobs = JobStore(services.ddb, services.settings.main_table)
    job = jobs.get(tenant_id, job_id)
    if job is None or job.upload_key != object_key:
        logger.warning("upload names no job of its tenant; ignored", extra={"key": object_key})
        return None
    if not jobs.start(job, etag):
        logger.info("import already processed for this object", extra={"job_id": job_id, "status": job.status})
        return job
    try:
        limit = max_upload_bytes(job.file_name)
        if size > limit:
            raise ImportFileError("too_large", f"the file is {size} bytes; at most {limit} are accepted")
        with tempfile.TemporaryDirectory(prefix="import-") as workdir:
            path = Path(workdir) / "upload"
            services.s3.download_file(bucket, object_key, str(path))
            return split_contacts(services, job, path)
    except ImportFileError as exc:
        logger.info("import failed", extra={"job_id": job_id, "code": exc.code})
        return jobs.finish(job, "failed", error=exc.message, error_code=exc.code)
    except Exception as exc:
        logger.exception("import crashed", extra={"job_id": job_id})
        jobs.finish(job, "failed", error=f"internal error: {type(exc).__name__}", error_code="internal")
        raise UnexpectedImportFailure(f"import job {job_id} failed unexpectedly") from exc


def split_contacts(services: ImportServices, job: ImportJob, path: Path) -> ImportJob:
    """Read and validate the file once, in order, cut into chunks; one chunk is written here,
    more are queued for parallel invocations (``handle_chunk``)."""
    catalog = fields_repo.catalog(job.tenant_id)
    options = tenant_options(job)
    if job.segment_id:
        load_static_segment(job.tenant_id, job.segment_id)
    table = read_table(path, job.file_name, job.sheet)
    try:
        mapping = map_columns(table.header, catalog, job.mapping)
    except MappingError as exc:
        raise ImportFileError("invalid_mapping", str(exc)) from exc
    if not mapping.columns:
        raise ImportFileError("invalid_mapping", "no column matches a contact field; see the ignored columns")
    ignored = [{"column": c.header, "position": c.index + 1, "reason": c.reason} for c in mapping.ignored]
    header_lines = [
        RejectRecord(1, c.header, "", f"column not imported: {c.reason}", COLUMN_IGNORED) for c in mapping.ignored
    ]
    outcomes = validate_rows(table, mapping, catalog, options)
    jobs = JobStore(services.ddb, services.settings.main_table)
    rows_read = index = 0
    following: RowOutcome | None = None  # the first row past the chunk being cut, read to know there is one
    while True:
        batch = [following] if following is not None else []
        batch += islice(outcomes, CHUNK_ROWS - len(batch))
        following = next(outcomes, None)
        chunk = Chunk(
            index=index,
            rows_read=len(batch),
            rows=[o.contact for o in batch if o.contact is not None],
            report=(header_lines if index == 0 else []) + [r for o in batch for r in o.rejects],
        )
        rows_read += len(batch)
        if index == 0 and following is None:
            # One chunk: no queue round trip.
            started = jobs.set_chunks(job, 1, rows_read, ignored_columns=ignored)
            return write_chunk(services, started, chunk)
        # Queued as soon as it is cut (one row past it tells there is more), so the chunk
        # invocations write it while the next chunk is still being read and validated.
        _queue_chunk(services, job, chunk)
        index += 1
        if following is None:
            break
    return finish_if_done(services, jobs.set_chunks(job, index, rows_read, ignored_columns=ignored))


def _queue_chunk(services: ImportServices, job: ImportJob, chunk: Chunk) -> None:
    services.s3.put_object(
        Bucket=services.settings.data_bucket,
        Key=chunk_key(job.tenant_id, job.job_id, chunk.index),
        Body=chunks.dump(chunk),
    )
    services.sqs.send_message(
        QueueUrl=services.settings.import_chunks_queue_url,
        MessageBody=json.dumps(chunk_message(job.tenant_id, job.job_id, chunk.index)),
    )


def handle_chunk(services: ImportServices, message: dict[str, Any], receive_count: int) -> str:
    """One queued chunk of a running job. Raises on an unexpected failure (SQS retries it); on its
    last delivery the chunk is first counted as failed, so the job still ends."""
    jobs = JobStore(services.ddb, services.settings.main_table)
    index = int(message["chunk"])
    job = jobs.get(str(message["tenant_id"]), str(message["job_id"]))
    if job is None or job.status != "running":
        return "ignored: the job is not running"
    if str(index) in job.chunks_counted:
        finish_if_done(services, job)
        return f"chunk {index} of job {job.job_id} already written"
    data = stored_chunk(services, job, index)
    if data is None:
        raise UnexpectedImportFailure(f"chunk {index} of import job {job.job_id} is missing")
    try:
        done = write_chunk(services, job, chunks.load(data))
    except Exception:
        if receive_count >= MAX_CHUNK_RECEIVES:
            logger.exception("import chunk failed for the last time", extra={"job_id": job.job_id, "chunk": index})
            give_up_chunk(services, job, index)
        raise
    services.s3.delete_object(
        Bucket=services.settings.data_bucket, Key=chunk_key(job.tenant_id, job.job_id, index)
    )
    return f"chunk {index} of job {job.job_id}: {done.rows_processed} rows processed, job {done.status}"


def handle_event_file(services: ImportServices, bucket: str, object_key: str, etag: str, size: int) -> str:
    """Append an events file to its tenant's log and record the batch's outcome (``event_batches``);
    batch ids derive from the object so a re-delivery rewrites the same log objects instead of
    duplicating events."""
    parts = object_key.split("/")
    tenant_id = parts[1]
    if not tenant_id or len(parts) < 4:
        return "ignored"
    seed = f"{bucket}/{object_key}/{etag}"
    name = PurePosixPath(object_key).name
    batch = batch_name(object_key)
    report = RejectReport()
    rejects: list[RejectRecord] = []
    appended = read = 0
    refused: str | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="events-") as workdir:
            path = Path(workdir) / "events"
            services.s3.download_file(bucket, object_key, str(path))
            for index, chunk in enumerate(read_event_file(path, name)):
                batch_id = str(uuid.uuid5(EVENT_BATCH_NAMESPACE, f"{seed}#{index}"))
                append_events(tenant_id, chunk.table, services.s3, batch_id, settings_bucket(services))
                appended += chunk.table.num_rows
                read += chunk.rows_read
                report.add(chunk.rejects)
                rejects += chunk.rejects
    except ImportFileError as exc:
        refused = f"{exc.code}: {exc.message}"
        report.add([RejectRecord(0, "", name, refused)])
        logger.warning("event file refused", extra={"key": object_key, "code": exc.code})
    except Exception:
        record_outcome(batch, read=read, ingested=0, rejects=rejects, refused="internal error; retried")
        raise
    if report.lines:
        report_id = uuid.uuid5(EVENT_BATCH_NAMESPACE, seed)
        services.s3.put_object(
            Bucket=services.settings.data_bucket,
            Key=f"tenants/{tenant_id}/reports/events/{report_id}/rejected.csv",
            Body=report.to_bytes(),
            ContentType="text/csv; charset=utf-8",
        )
    record_outcome(batch, read=read, ingested=appended, rejects=rejects, refused=refused)
    logger.info("events appended", extra={"key": object_key, "read": read, "appended": appended})
    return f"events: {appended} appended, {len(report.rows)} rejected"


def settings_bucket(services: ImportServices) -> str:
    return services.settings.data_bucket
