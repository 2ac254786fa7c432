"""Evaluator: the EventBridge schedule, direct ``{"tenant_id", "segment_ids"}`` calls and EvaluateQueue
messages (on-demand runs queued by ``POST /segments/{id}/evaluate``, and shards of a fanned-out run).

Thin shell over ``audience.evaluation``: the schedule evaluates every tenant and returns SPEC §6's
summary ``{"runs": [{"tenant_id", "as_of", "snapshot_id", "segments": {id: member_count}}]}``; an SQS
record whose tenant is being evaluated by another run raises, so SQS delivers it again later.
``EVALUATION_SHARD_FILES`` (template.yaml): a tenant whose snapshot has more base files than this is
split into shards of that many files, fanned out over EvaluateQueue (unset: always in-process).
"""

from __future__ import annotations

import os

from audience.evaluation.fanout import run_shard
from audience.evaluation.run import run_every_tenant, run_on_demand, run_tenant
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, Field, ValidationError

logger = Logger(service="evaluator")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class EvaluateRequest(BaseModel):
    tenant_id: str = Field(min_length=1)
    segment_ids: list[str] | None = None
    run_id: str | None = None
    shard: int | None = Field(default=None, ge=0)  # set: one shard of the fanned-out run ``run_id``


def _fan_out_files() -> int | None:
    value = os.environ.get("EVALUATION_SHARD_FILES", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def record_handler(record: SQSRecord) -> str:
    try:
        request = EvaluateRequest.model_validate_json(record.body)
    except ValidationError:
        logger.error("dropping a message that names no tenant", message_id=record.message_id)
        return "dropped"
    if request.shard is not None:
        if not request.run_id:
            logger.error("dropping a shard message without a run id", message_id=record.message_id)
            return "dropped"
        finished = run_shard(request.tenant_id, request.run_id, request.shard)
        logger.info("shard evaluated", tenant_id=request.tenant_id, run_id=request.run_id, shard=request.shard,
                    finished_run=finished is not None)
        return request.run_id
    result = run_on_demand(request.tenant_id, segment_ids=request.segment_ids, run_id=request.run_id,
                           fan_out_files=_fan_out_files())
    if result is None:
        logger.info("run already ended: redelivery ignored", tenant_id=request.tenant_id, run_id=request.run_id)
        return request.run_id or ""
    logger.info("on-demand run", tenant_id=request.tenant_id, run_id=result.run_id, failed=result.failed,
                sharded=result.sharded)
    return result.run_id


@logger.inject_lambda_context
def lambda_handler(event, context):
    if "Records" in event:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    if "tenant_id" in event:
        request = EvaluateRequest.model_validate(event)
        result = run_tenant(request.tenant_id, segment_ids=request.segment_ids, run_id=request.run_id,
                            fan_out_files=_fan_out_files())
        return {"runs": [result.summary()], "failed": result.failed}
    outcome = run_every_tenant(fan_out_files=_fan_out_files(),
                               seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    for result in outcome.results:
        logger.info("scheduled run", tenant_id=result.tenant_id, run_id=result.run_id,
                    duration_ms=result.duration_ms, segments=len(result.segments), failed=result.failed,
                    sharded=result.sharded)
    answer = {"runs": [result.summary() for result in outcome.results]}
    if outcome.skipped:
        logger.warning("tenants skipped", skipped=outcome.skipped)
        answer["skipped"] = outcome.skipped
    if outcome.queued:
        logger.warning("out of time: tenants queued for on-demand runs", queued=outcome.queued)
        answer["queued"] = outcome.queued
    return answer
