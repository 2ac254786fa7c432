"""POST /imports (a job plus a presigned upload slot) and GET /imports/{job_id}.

The tenant comes only from the authorizer context; the upload key embeds it, and the importer
trusts nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from audience.errors import NotFound, ValidationFailed
from audience.exports.clients import clients_for
from audience.imports.identity import is_phone_region, phone_region_schema
from audience.imports.jobs import UPLOADABLE_FILE_NAME, JobStore, check_file_name, presigned_upload, report_url
from audience.imports.mapping import check_mapping
from audience.json_types import SEGMENT_ID, tenant_name
from audience.settings import get_settings
from audience.storage import fields_repo, segments_repo
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.api.routers.request_context import tenant_id

router = Router()


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The pattern is documented, not validated here: check_file_name enforces it in the route, so
    # a bad name is reported together with every other bad field.
    file_name: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": UPLOADABLE_FILE_NAME})
    segment_id: str | None = Field(
        default=None, min_length=1, max_length=100, json_schema_extra=tenant_name(SEGMENT_ID)
    )
    mapping: dict[str, str | None] | None = Field(default=None, max_length=500)
    sheet: str | None = Field(default=None, min_length=1, max_length=100)
    date_order: Literal["DMY", "MDY"] | None = None
    default_region: Annotated[str, Field(json_schema_extra=phone_region_schema)] | None = None

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and not is_phone_region(value):
            raise ValueError("an ISO 3166 two-letter region that phonenumbers supports, e.g. US or DE")
        return value.upper() if value else value


def _clients():
    """The settings and the container's shared DynamoDB and S3 clients (built on the first request,
    not on every one: a client per request cost ~1.3 s of CPU over the demo's status polling)."""
    settings = get_settings()
    shared = clients_for(settings)
    return settings, shared.dynamodb, shared.s3


@router.post("/imports", summary="Start an import: a pending job and a presigned upload slot", status_code=201)
def create_import(request: Annotated[ImportRequest, Body()]) -> tuple[dict[str, Any], int]:
    """The client then PUTs the file to ``upload_url`` (or POSTs ``upload_form``); see docs/imports.md."""
    tenant = tenant_id(router)
    details = []
    problem = check_file_name(request.file_name)
    if problem:
        details.append({"path": "/file_name", "message": problem})
    catalog = fields_repo.catalog(tenant)
    details += [{"path": path, "message": message} for path, message in check_mapping(request.mapping, catalog)]
    if request.segment_id is not None:
        segment = segments_repo.find(tenant, request.segment_id)
        if segment is None:
            details.append({"path": "/segment_id", "message": "no such segment"})
        elif segment.type != "static":
            details.append({"path": "/segment_id", "message": "imports add to static segments only"})
    if details:
        raise ValidationFailed("the import request is invalid", details)
    settings, ddb, s3 = _clients()
    job = JobStore(ddb, settings.main_table).create(
        tenant, request.file_name, **request.model_dump(exclude={"file_name"})
    )
    slot = presigned_upload(s3, settings.import_bucket, job)
    return {"job_id": job.job_id, "status": job.status, **slot}, 201


@router.get("/imports/<job_id>", summary="An import job: status, row counts, rejected-rows report URL")
def get_import(job_id: str) -> dict[str, Any]:
    tenant = tenant_id(router)
    settings, ddb, s3 = _clients()
    job = JobStore(ddb, settings.main_table).get(tenant, job_id)
    if job is None:
        raise NotFound(f"import job {job_id!r} not found")
    return job.public(report_url(s3, settings.data_bucket, job))
