"""Import jobs in MainTable (``pk = T#{tenant}``, ``sk = JOB#{job_id}``) and their upload slot.

The job is the import's source of truth: the importer trusts only the tenant and job id in the S3
key, and only if this item exists for that tenant and names that exact key. Status moves
pending -> running -> succeeded|failed through conditional writes, which also make a re-delivered
object a no-op once the job has finished. Pure boto3 (no pyarrow): the API imports it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from audience.imports.dynamo import item, key, plain
from audience.imports.limits import MAX_PARQUET_BYTES, MAX_TABULAR_BYTES
from audience.imports.readers import CONTACT_FORMATS, extension

JobStatus = Literal["pending", "running", "succeeded", "failed"]
UPLOAD_URL_SECONDS = 3600
REPORT_URL_SECONDS = 7 * 24 * 3600
FILE_NAME = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,200}$")
UPLOADABLE_FILE_NAME = r"^[^/\\\x00-\x1f\x7f]+[.]([cC][sS][vV]|[xX][lL][sS][xX]?|[pP][aA][rR][qQ][uU][eE][tT])$"
"""What ``check_file_name`` accepts, as one pattern for the API document: no slashes or control
characters, and a name before one of ``CONTACT_FORMATS`` (any case)."""
KEY_PATTERN = re.compile(r"^tenants/(?P<tenant>[^/]+)/imports/(?P<job_id>[^/]+)/(?P<file_name>[^/]+)$")


class ImportJob(BaseModel):
    job_id: str
    tenant_id: str
    kind: Literal["import"] = "import"
    status: JobStatus = "pending"
    file_name: str
    upload_key: str
    segment_id: str | None = None
    mapping: dict[str, str | None] | None = None
    sheet: str | None = None
    date_order: Literal["DMY", "MDY"] | None = None
    default_region: str | None = None
    rows_read: int = 0
    rows_processed: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    values_dropped: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    ignored_columns: list[dict[str, Any]] = Field(default_factory=list)
    report_key: str | None = None
    source_etag: str | None = None
    chunks_total: int | None = None
    chunks_done: int = 0
    chunks_failed: int = 0
    chunks_counted: list[str] = Field(default_factory=list)
    error: str | None = None
    error_code: str | None = None
    created_at: str
    updated_at: str

    def public(self, report_url: str | None = None) -> dict[str, Any]:
        """The job as SPEC §3 shows it (``report_url`` presigned by the caller)."""
        body = self.model_dump(
            exclude={"tenant_id", "upload_key", "report_key", "source_etag", "kind", "chunks_counted", "chunks_failed"}
        )
        body["report_url"] = report_url
        if self.error is None:
            body.pop("error")
            body.pop("error_code")
        return body


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_file_name(file_name: str) -> str | None:
    """Why the name cannot be uploaded, or None."""
    if not FILE_NAME.match(file_name or "") or file_name in (".", ".."):
        return "a plain file name without slashes or control characters, at most 200 characters"
    if extension(file_name) not in CONTACT_FORMATS:
        return f"the file must end in one of {', '.join(CONTACT_FORMATS)}"
    return None


def upload_key(tenant_id: str, job_id: str, file_name: str) -> str:
    return f"tenants/{tenant_id}/imports/{job_id}/{file_name}"


def parse_upload_key(object_key: str) -> tuple[str, str, str] | None:
    """(tenant, job_id, file_name) from an already URL-decoded key, or None when it is not one."""
    match = KEY_PATTERN.match(object_key)
    return (match["tenant"], match["job_id"], match["file_name"]) if match else None


def max_upload_bytes(file_name: str) -> int:
    return MAX_PARQUET_BYTES if extension(file_name) == ".parquet" else MAX_TABULAR_BYTES


class JobStore:
    def __init__(self, ddb, table: str) -> None:
        self.ddb = ddb
        self.table = table

    def create(self, tenant_id: str, file_name: str, **options: Any) -> ImportJob:
        job_id = uuid.uuid4().hex
        stamp = now_iso()
        job = ImportJob(
            job_id=job_id,
            tenant_id=tenant_id,
            file_name=file_name,
            upload_key=upload_key(tenant_id, job_id, file_name),
            created_at=stamp,
            updated_at=stamp,
            **options,
        )
        self.ddb.put_item(
            TableName=self.table,
            Item={**key(f"T#{tenant_id}", f"JOB#{job_id}"), **item(job.model_dump(exclude={"chunks_counted"}))},
            ConditionExpression="attribute_not_exists(pk)",
        )
        return job

    def get(self, tenant_id: str, job_id: str) -> ImportJob | None:
        raw = self.ddb.get_item(TableName=self.table, Key=key(f"T#{tenant_id}", f"JOB#{job_id}"), ConsistentRead=True)
        data = plain(raw.get("Item"))
        if not data or data.get("kind") != "import":
            return None
        return job_from_item(data)

    def start(self, job: ImportJob, etag: str) -> bool:
        """pending -> running, or resume a crashed run of the same object; False if already done."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=key(f"T#{job.tenant_id}", f"JOB#{job.job_id}"),
                UpdateExpression="SET #s = :running, source_etag = :etag, updated_at = :now",
                # A crashed run (still running) or one that failed unexpectedly is re-run for the same
                # object; a finished job or a different object is left alone.
                ConditionExpression="#s = :pending OR (source_etag = :etag AND "
                "(#s = :running OR (#s = :failed AND error_code = :internal)))",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=item(
                    {
                        ":running": "running",
                        ":pending": "pending",
                        ":failed": "failed",
                        ":internal": "internal",
                        ":etag": etag,
                        ":now": now_iso(),
                    }
                ),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        job.status, job.source_etag = "running", etag
        return True

    def set_chunks(self, job: ImportJob, chunks_total: int, rows_read: int, **fields: Any) -> ImportJob:
        """The split is done: how many chunks and rows the job has (the chunks may be running)."""
        changes = {"chunks_total": chunks_total, "rows_read": rows_read, "updated_at": now_iso(), **fields}
        raw = self.ddb.update_item(
            TableName=self.table,
            Key=key(f"T#{job.tenant_id}", f"JOB#{job.job_id}"),
            UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(changes))),
            ExpressionAttributeNames={f"#f{i}": name for i, name in enumerate(changes)},
            ExpressionAttributeValues=item({f":f{i}": value for i, value in enumerate(changes.values())}),
            ReturnValues="ALL_NEW",
        )
        return job_from_item(plain(raw["Attributes"]) or {})

    def count_chunk(self, job: ImportJob, chunk: int, counts: dict[str, int], failed: bool = False) -> ImportJob | None:
        """Add one chunk's figures to the job, once per chunk (a re-delivered chunk adds nothing):
        the new job, or None when this chunk was already counted."""
        counts = {**counts, "chunks_done": 1, "chunks_failed": int(failed)}
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":c{i}": value for i, value in enumerate(counts.values())}
        adds = ", ".join(f"#c{i} :c{i}" for i in range(len(counts)))
        try:
            raw = self.ddb.update_item(
                TableName=self.table,
                Key=key(f"T#{job.tenant_id}", f"JOB#{job.job_id}"),
                UpdateExpression=f"ADD {adds}, chunks_counted :chunk_set SET updated_at = :now",
                ConditionExpression="attribute_exists(pk) AND NOT contains(chunks_counted, :chunk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **item({**values, ":chunk": str(chunk), ":now": now_iso()}),
                    ":chunk_set": {"SS": [str(chunk)]},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return job_from_item(plain(raw["Attributes"]) or {})

    def finish(self, job: ImportJob, status: JobStatus, **changes: Any) -> ImportJob:
        """Record the outcome of a started job."""
        changes = {**changes, "status": status, "updated_at": now_iso()}
        names = {f"#a{i}": name for i, name in enumerate(changes)}
        values = {f":v{i}": value for i, value in enumerate(changes.values())}
        sets = [f"#a{i} = :v{i}" for i, value in enumerate(changes.values()) if value is not None]
        removes = [f"#a{i}" for i, value in enumerate(changes.values()) if value is None]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self.ddb.update_item(
            TableName=self.table,
            Key=key(f"T#{job.tenant_id}", f"JOB#{job.job_id}"),
            UpdateExpression=expression,
            ConditionExpression="#st IN (:pending, :running)",
            ExpressionAttributeNames={**names, "#st": "status"},
            ExpressionAttributeValues=item(
                {
                    **{k: v for k, v in values.items() if v is not None},
                    ":pending": "pending",
                    ":running": "running",
                }
            ),
        )
        return job.model_copy(update=changes)


def job_from_item(data: dict[str, Any]) -> ImportJob:
    values = {k: v for k, v in data.items() if k not in ("pk", "sk")}
    if isinstance(values.get("chunks_counted"), (set, list)):
        values["chunks_counted"] = sorted(values["chunks_counted"])
    return ImportJob.model_validate(values)


def presigned_upload(s3, bucket: str, job: ImportJob) -> dict[str, Any]:
    """A presigned PUT (SPEC's ``upload_url``) plus a presigned POST whose policy caps the size.

    A PUT URL cannot bound the body size, so the importer also checks the size on arrival.
    """
    limit = max_upload_bytes(job.file_name)
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": job.upload_key}, ExpiresIn=UPLOAD_URL_SECONDS
    )
    form = s3.generate_presigned_post(
        bucket,
        job.upload_key,
        Conditions=[["content-length-range", 1, limit]],
        ExpiresIn=UPLOAD_URL_SECONDS,
    )
    return {"upload_url": put_url, "upload_form": form, "max_bytes": limit, "expires_in": UPLOAD_URL_SECONDS}


def report_url(s3, bucket: str, job: ImportJob) -> str | None:
    if not job.report_key:
        return None
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": job.report_key}, ExpiresIn=REPORT_URL_SECONDS
    )
