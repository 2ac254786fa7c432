"""The import use cases: a contacts file uploaded for a job, and an activity events file.

Trust comes only from the object key: ``tenants/{tenant}/imports/{job_id}/{file}`` must name a job
of that tenant recorded for exactly that key. Nothing is ever written under the import prefixes
(reports go to the data bucket), so the importer cannot trigger itself.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Any

from audience.eventlog import append_events
from audience.imports.coercion import CoercionOptions
from audience.imports.collapse import collapse
from audience.imports.contact_writer import ContactWriter
from audience.imports.errors import ImportFileError
from audience.imports.event_batches import batch_name, record_outcome
from audience.imports.event_files import read_event_file
from audience.imports.jobs import ImportJob, JobStore, max_upload_bytes, parse_upload_key
from audience.imports.mapping import MappingError, map_columns
from audience.imports.readers import read_table
from audience.imports.report import RejectReport
from audience.imports.rows import RejectRecord, validate_rows
from audience.imports.segment_membership import add_to_static_segment, load_static_segment
from audience.settings import Settings
from audience.storage import fields_repo, tenants_repo

logger = logging.getLogger(__name__)

CHUNK_ROWS = 2_000
EVENT_BATCH_NAMESPACE = uuid.UUID("6f1c2f0e-3d7b-4a8e-9a55-0c3f7f1d2b10")


@dataclass
class ImportServices:
    ddb: Any
    s3: Any
    settings: Settings


@dataclass
class ImportResult:
    rows_read: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    ignored_columns: list[dict[str, Any]] = field(default_factory=list)
    report_key: str | None = None


class UnexpectedImportFailure(RuntimeError):
    """Raised after the job is marked failed so the message is retried and ends in the DLQ."""


def report_key(tenant_id: str, job_id: str) -> str:
    return f"tenants/{tenant_id}/reports/{job_id}/rejected.csv"


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
            result = import_contacts(services, job, path)
    except ImportFileError as exc:
        logger.info("import failed", extra={"job_id": job_id, "code": exc.code})
        return jobs.finish(job, "failed", error=exc.message, error_code=exc.code)
    except Exception as exc:
        logger.exception("import crashed", extra={"job_id": job_id})
        jobs.finish(job, "failed", error=f"internal error: {type(exc).__name__}", error_code="internal")
        raise UnexpectedImportFailure(f"import job {job_id} failed unexpectedly") from exc
    return jobs.finish(
        job,
        "succeeded",
        rows_read=result.rows_read,
        rows_imported=result.rows_imported,
        rows_rejected=result.rows_rejected,
        contacts_created=result.contacts_created,
        contacts_updated=result.contacts_updated,
        ignored_columns=result.ignored_columns,
        report_key=result.report_key,
        error=None,
        error_code=None,
    )


def import_contacts(services: ImportServices, job: ImportJob, path: Path) -> ImportResult:
    settings = services.settings
    catalog = fields_repo.catalog(job.tenant_id)
    options = tenant_options(job)
    segment = load_static_segment(job.tenant_id, job.segment_id) if job.segment_id else None
    table = read_table(path, job.file_name, job.sheet)
    try:
        mapping = map_columns(table.header, catalog, job.mapping)
    except MappingError as exc:
        raise ImportFileError("invalid_mapping", str(exc)) from exc
    if not mapping.columns:
        raise ImportFileError("invalid_mapping", "no column matches a contact field; see the ignored columns")

    result = ImportResult(
        ignored_columns=[{"column": c.header, "position": c.index + 1, "reason": c.reason} for c in mapping.ignored]
    )
    report = RejectReport()
    report.add(RejectRecord(1, c.header, "", f"column not imported: {c.reason}") for c in mapping.ignored)
    writer = ContactWriter(job.tenant_id, job.job_id)
    outcomes = validate_rows(table, mapping, catalog, options)
    while chunk := list(islice(outcomes, CHUNK_ROWS)):
        result.rows_read += len(chunk)
        for outcome in chunk:
            report.add(outcome.rejects)
        candidates, duplicates = collapse(o.contact for o in chunk if o.contact is not None)
        report.add(duplicates)
        imported_ids = []
        for written in writer.write_all(candidates):
            if written.reject is not None:
                first = written.candidate.rows[0]
                report.add([written.reject])
                report.add(RejectRecord(r, "", "", f"same contact as row {first}") for r in written.candidate.rows[1:])
                continue
            imported_ids.append(written.contact_id)
            if written.created:
                result.contacts_created += 1
            else:
                result.contacts_updated += 1
        if segment is not None and imported_ids:
            add_to_static_segment(job.tenant_id, segment, imported_ids)
    result.rows_rejected = len(report.rows)
    result.rows_imported = result.rows_read - result.rows_rejected
    if report.lines:
        result.report_key = report_key(job.tenant_id, job.job_id)
        services.s3.put_object(
            Bucket=settings.data_bucket,
            Key=result.report_key,
            Body=report.to_bytes(),
            ContentType="text/csv; charset=utf-8",
            ContentDisposition=f'attachment; filename="rejected-{job.job_id}.csv"',
        )
    return result


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
