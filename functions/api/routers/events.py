"""Activity events: POST /events (up to 500, validated here, appended to the event log by the
importer), GET /events/batches/{batch_id} (a batch's status) and GET/PUT /settings/events (the
log's retention).

The API stays free of pyarrow: POST creates the batch's ``pending`` record, then stages the batch as
JSON Lines under the tenant's ``events/api/`` prefix of the import bucket, whose notification feeds
the importer (202 Accepted); the importer marks the batch ``ingested`` or ``failed``. An event file
dropped under ``events/`` gets a record named by its key below the tenant (``events/...``, URL-encoded
in the path)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import boto3
from audience.errors import NotFound, ValidationFailed
from audience.event_retention import window_problems
from audience.imports.events import BareEvents, EventBatch
from audience.json_types import json_int
from audience.settings import get_settings
from audience.storage import eventlog_repo, segments_repo
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from functions.api.routers.request_context import tenant_id

router = Router()

MAX_RETENTION_DAYS = 3650


class EventsAccepted(BaseModel):
    accepted: int
    batch_id: str
    status_url: str


class BatchError(BaseModel):
    index: int | None = Field(description="the event's position in the request (0-based), or its line in a file")
    message: str


class BatchStatus(BaseModel):
    batch_id: str
    status: str = Field(description="pending | ingested | failed")
    accepted: int
    ingested: int
    rejected: int
    errors: list[BatchError]


class EventSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: json_int(ge=1, le=MAX_RETENTION_DAYS) = Field(
        description="events older than this are dropped (whole months)"
    )


def staging_key(tenant: str, batch_id: str, now: datetime) -> str:
    return f"tenants/{tenant}/events/api/{now:%Y-%m-%d}/{batch_id}.jsonl"


def status_url(batch_id: str) -> str:
    return f"/events/batches/{quote(batch_id, safe='')}"


@router.post(
    "/events",
    summary="Append up to 500 activity events (a bare array of events is accepted too)",
    tags=["events"],
    status_code=202,
    responses={
        202: {"description": "pending: follow status_url", "content": {"application/json": {"model": EventsAccepted}}}
    },
)
def post_events(body: Annotated[EventBatch | BareEvents, Body()]) -> tuple[dict[str, Any], int]:
    tenant = tenant_id(router)
    batch = EventBatch(events=body.root) if isinstance(body, BareEvents) else body  # same limits
    batch_id = uuid.uuid4().hex
    lines = "\n".join(
        json.dumps(
            {
                "contact_id": e.contact_id,
                "event": e.event,
                "occurred_at": e.occurred_at.isoformat().replace("+00:00", "Z"),
                "properties": e.properties,
            },
            ensure_ascii=False,
        )
        for e in batch.events
    )
    eventlog_repo.create_pending(tenant, batch_id, len(batch.events))  # before staging: the importer finishes it
    settings = get_settings()
    s3 = boto3.client("s3", region_name=settings.region)
    s3.put_object(
        Bucket=settings.import_bucket,
        Key=staging_key(tenant, batch_id, datetime.now(UTC)),
        Body=(lines + "\n").encode("utf-8"),
        ContentType="application/x-ndjson",
    )
    accepted = EventsAccepted(accepted=len(batch.events), batch_id=batch_id, status_url=status_url(batch_id))
    return accepted.model_dump(), 202


@router.get("/events/batches/<batch_id>", summary="An event batch's status", tags=["events"])
def get_batch(batch_id: str) -> BatchStatus:
    found = eventlog_repo.find(tenant_id(router), batch_id)
    if found is None:
        raise NotFound(f"no event batch {batch_id!r}")
    return BatchStatus(**found.view())


@router.get("/settings/events", summary="The event log's retention", tags=["settings"])
def get_event_settings() -> EventSettings:
    return EventSettings(retention_days=eventlog_repo.retention_days(tenant_id(router)))


@router.put("/settings/events", summary="Set the event log's retention", tags=["settings"])
def put_event_settings(settings: Annotated[EventSettings, Body()]) -> EventSettings:
    tenant = tenant_id(router)
    too_far = []
    for segment in segments_repo.all_segments(tenant):
        if segment.type == "dynamic" and segment.rules:
            too_far += window_problems(segment.rules, f"/segments/{segment.id}/rules", settings.retention_days)
    if too_far:
        raise ValidationFailed(
            "segments look back further than this retention keeps events",
            [{"path": "/retention_days", "message": f"{p['path']}: {p['message']}"} for p in too_far],
        )
    return EventSettings(retention_days=eventlog_repo.put_retention_days(tenant, settings.retention_days))
