"""POST /events: up to 500 activity events, validated here, appended to the event log by the
importer. The API stays free of pyarrow: it stages the batch as JSON Lines under the tenant's
``events/`` prefix of the import bucket, whose notification feeds the importer (202 Accepted)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import boto3
from audience.errors import ValidationFailed
from audience.imports.events import ActivityEvent, EventBatch
from audience.settings import get_settings
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ValidationError

from functions.api.routers.request_context import pydantic_details, tenant_id

router = Router()


def staging_key(tenant: str, batch_id: str, now: datetime) -> str:
    return f"tenants/{tenant}/events/api/{now:%Y-%m-%d}/{batch_id}.jsonl"


class EventsAccepted(BaseModel):
    accepted: int
    batch_id: str


@router.post(
    "/events",
    summary="Append up to 500 activity events (a bare array of events is accepted too)",
    tags=["events"],
    status_code=202,
    responses={
        202: {"description": "staged for the importer", "content": {"application/json": {"model": EventsAccepted}}}
    },
)
def post_events(body: Annotated[EventBatch | list[ActivityEvent], Body()]) -> tuple[dict[str, Any], int]:
    tenant = tenant_id(router)
    if isinstance(body, list):  # a bare array is the same batch, with the same limits
        try:
            body = EventBatch(events=body)
        except ValidationError as exc:
            raise ValidationFailed("the events are invalid", pydantic_details(exc)) from exc
    batch = body
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
    settings = get_settings()
    s3 = boto3.client("s3", region_name=settings.region)
    s3.put_object(
        Bucket=settings.import_bucket,
        Key=staging_key(tenant, batch_id, datetime.now(UTC)),
        Body=(lines + "\n").encode("utf-8"),
        ContentType="application/x-ndjson",
    )
    return {"accepted": len(batch.events), "batch_id": batch_id}, 202
