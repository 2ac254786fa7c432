"""Exporter: jobs from JobsQueue — exports, mass updates and score resets.

Thin shell: each SQS record names a tenant and a job; ``audience.exports.runner.run_job`` claims and
runs it. Powertools' BatchProcessor reports a record that raises in ``batchItemFailures`` so SQS
delivers it again (and to the dead-letter queue after ``MAX_RECEIVES``); the job item makes a second
delivery of a finished job a no-op.
"""

from __future__ import annotations

from audience.exports.runner import run_job
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ValidationError

logger = Logger(service="exporter")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# JobsQueue's RedrivePolicy maxReceiveCount in template.yaml: the last delivery fails the job instead of
# raising, so no job is left "running" when its message moves to the dead-letter queue.
MAX_RECEIVES = 3


class JobMessage(BaseModel):
    tenant_id: str
    job_id: str
    kind: str | None = None


def record_handler(record: SQSRecord, lambda_context=None) -> str:
    try:
        message = JobMessage.model_validate_json(record.body)
    except ValidationError:
        logger.error("dropping a message that names no job", message_id=record.message_id)
        return "dropped"
    receives = int(record.attributes.approximate_receive_count or 1)
    seconds_left = None
    if lambda_context is not None:
        seconds_left = lambda: lambda_context.get_remaining_time_in_millis() / 1000  # noqa: E731
    job = run_job(
        message.tenant_id, message.job_id, final_attempt=receives >= MAX_RECEIVES, seconds_left=seconds_left
    )
    return job.status if job else "skipped"


@logger.inject_lambda_context
def lambda_handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
