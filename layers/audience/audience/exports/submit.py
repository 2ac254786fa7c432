"""What the API does for the job routes: check the request, queue the job, and show its status.

Kept out of the router so the HTTP layer stays a shell; free of pyarrow (the API imports it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from audience.bulk.request import parse_mass_update, parse_reset_score
from audience.exports import jobs
from audience.exports.clients import Clients
from audience.exports.export import DOWNLOAD_URL_SECONDS, presigned_download_url
from audience.exports.request import parse_export_request
from audience.storage import fields_repo, segments_repo
from audience.storage.base import now_iso
from audience.storage.records import Job


def submit_export(tenant: str, segment_id: str, body: Any, *, requested_by: dict[str, Any], clients: Clients) -> Job:
    segment = segments_repo.get(tenant, segment_id)
    spec = parse_export_request(body, fields_repo.catalog(tenant), default_stem=segment.name)
    params = {"spec": spec.model_dump(), "requested_by": requested_by, "requested_at": now_iso()}
    return _enqueue(clients, tenant, jobs.EXPORT, segment_id, params)


def submit_mass_update(
    tenant: str, segment_id: str, body: Any, *, requested_by: dict[str, Any], clients: Clients
) -> Job:
    segments_repo.get(tenant, segment_id)
    changes = parse_mass_update(body, fields_repo.catalog(tenant))
    params = {"set": changes, "requested_by": requested_by, "requested_at": now_iso()}
    return _enqueue(clients, tenant, jobs.MASS_UPDATE, segment_id, params)


def submit_reset_score(
    tenant: str, segment_id: str, body: Any, *, requested_by: dict[str, Any], clients: Clients
) -> Job:
    segments_repo.get(tenant, segment_id)
    request = parse_reset_score(body)
    params = {"reason": request.reason.strip(), "requested_by": requested_by, "requested_at": now_iso()}
    return _enqueue(clients, tenant, jobs.RESET_SCORE, segment_id, params)


def _enqueue(clients: Clients, tenant: str, kind: str, segment_id: str, params: dict[str, Any]) -> Job:
    queue_url = clients.settings.jobs_queue_url
    return jobs.create_and_enqueue(clients.sqs, queue_url, tenant, kind, segment_id, params)


def job_status(tenant: str, job_id: str, *, kinds: tuple[str, ...], clients: Clients) -> dict[str, Any]:
    """SPEC's job shape; a finished export carries a fresh presigned ``download_url``."""
    job = jobs.get(tenant, job_id, kinds)
    body = jobs.public_view(job)
    if job.kind == jobs.EXPORT:
        spec = job.params.get("spec") or {}
        body.update(
            format=spec.get("format"), fields=spec.get("columns"), file_name=spec.get("file_name"),
            row_count=int(job.counts.get("row_count", 0)), download_url=None,
        )  # fmt: skip
        if job.status == "succeeded":
            url = presigned_download_url(clients.s3, clients.settings.export_bucket, job.result["object_key"])
            body["download_url"] = url
            if url is None:
                body["download_expired"] = True
            else:
                expires = datetime.now(UTC) + timedelta(seconds=DOWNLOAD_URL_SECONDS)
                body["download_url_expires_at"] = expires.isoformat(timespec="seconds").replace("+00:00", "Z")
    elif job.kind == jobs.MASS_UPDATE:
        body["set"] = job.params.get("set")
    elif job.kind == jobs.RESET_SCORE:
        body["reason"] = job.params.get("reason")
    return body
