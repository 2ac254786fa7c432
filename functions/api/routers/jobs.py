"""Job routes over a segment's members (SPEC §3): exports, mass updates, score resets, and status.

Each POST checks the request, stores a pending job and queues it for the exporter function, and
answers 202 ``{"job_id", "status": "pending"}``; the work happens there
(``audience.exports.runner``). The tenant comes only from the authorizer context.
"""

from __future__ import annotations

from typing import Annotated, Any

from audience.bulk.request import MassUpdateBody, ResetScoreRequest
from audience.exports import jobs
from audience.exports.clients import Clients, clients_for
from audience.exports.request import ExportBody
from audience.exports.submit import job_status, submit_export, submit_mass_update, submit_reset_score
from audience.settings import get_settings
from audience.storage.records import Job
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from functions.api.routers.request_context import authorizer_context, tenant_id

router = Router()


def clients() -> Clients:
    return clients_for(get_settings())


def requested_by() -> dict[str, Any]:
    """Who asked, for job params and the audit trail: tenant, key id (when the authorizer names
    one), caller address and user agent."""
    context = authorizer_context(router.current_event)
    identity = (router.current_event.get("requestContext") or {}).get("identity") or {}
    who = {
        "tenant_id": tenant_id(router),
        "key_id": context.get("key_id"),
        "source_ip": identity.get("sourceIp"),
        "user_agent": identity.get("userAgent"),
    }
    return {k: v for k, v in who.items() if v}


def accepted(job: Job) -> tuple[dict[str, Any], int]:
    return {"job_id": job.job_id, "status": job.status}, 202


@router.post(
    "/segments/<segment_id>/exports",
    summary="Export the segment's members to csv, xlsx, parquet, jsonl or audience_sha256 (202, a job)",
    tags=["exports"],
    status_code=202,
)
def create_export(segment_id: str, body: Annotated[ExportBody, Body()]):
    tenant = tenant_id(router)
    request = body.model_dump(exclude_none=True)
    job = submit_export(tenant, segment_id, request, requested_by=requested_by(), clients=clients())
    return accepted(job)


@router.get("/exports/<job_id>", summary="Export status, row count and download URL", tags=["exports"])
def get_export(job_id: str) -> dict[str, Any]:
    return job_status(tenant_id(router), job_id, kinds=(jobs.EXPORT,), clients=clients())


@router.post(
    "/segments/<segment_id>/mass-update",
    summary='Set fields on every member contact: {"set": {field: value}} (202, a job)',
    tags=["jobs"],
    status_code=202,
)
def create_mass_update(segment_id: str, body: Annotated[MassUpdateBody, Body()]):
    tenant = tenant_id(router)
    job = submit_mass_update(
        tenant, segment_id, body.model_dump(), requested_by=requested_by(), clients=clients()
    )
    return accepted(job)


@router.post(
    "/segments/<segment_id>/reset-score",
    summary='Set every member\'s score to 0, audited: {"reason", "confirm": true} (202, a job)',
    tags=["jobs"],
    status_code=202,
)
def create_reset_score(segment_id: str, body: Annotated[ResetScoreRequest, Body()]):
    tenant = tenant_id(router)
    job = submit_reset_score(
        tenant, segment_id, body.model_dump(), requested_by=requested_by(), clients=clients()
    )
    return accepted(job)


@router.get("/jobs/<job_id>", summary="Status of an export, mass update or score reset job", tags=["jobs"])
def get_job(job_id: str) -> dict[str, Any]:
    return job_status(tenant_id(router), job_id, kinds=jobs.KINDS, clients=clients())
