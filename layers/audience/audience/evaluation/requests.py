"""Queueing an on-demand evaluation (``POST /segments/{id}/evaluate``). Pure of pyarrow: the API
imports it. The run id is recorded in the run ledger as ``queued`` before the message is sent, so a
caller can follow it; the evaluator runs the named segment and everything that depends on it."""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime

import boto3

from audience.errors import Conflict
from audience.settings import get_settings
from audience.storage import runs_repo, segments_repo


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by start time (the ledger lists newest first)."""
    now = now or datetime.now(UTC)
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}"


def request_evaluation(tenant: str, segment_id: str) -> str:
    """Queue a re-evaluation of one dynamic segment; returns the run id (404 if unknown, 409 if static)."""
    segment = segments_repo.get(tenant, segment_id)
    if segment.type != "dynamic":
        raise Conflict("only dynamic segments are evaluated; a static segment's members are added")
    run_id = new_run_id()
    runs_repo.put_run(tenant, run_id, "queued", detail={"segment_ids": [segment_id]})
    settings = get_settings()
    sqs = boto3.client("sqs", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    body = {"tenant_id": tenant, "segment_ids": [segment_id], "run_id": run_id}
    sqs.send_message(QueueUrl=os.environ["EVALUATE_QUEUE_URL"], MessageBody=json.dumps(body))
    return run_id
