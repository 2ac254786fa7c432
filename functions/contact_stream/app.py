"""Contact stream: ContactsTable stream records -> real-time dynamic memberships.

Thin shell: Powertools' batch utility turns each record into a ``ContactChange`` and hands it to
``audience.realtime.apply``; a change of a tenant without dynamic segments is left out first (nothing
to decide, ``TenantCache.quiet``); a record that fails is reported alone (partial batch response), so the
event source mapping retries from it (bisecting on errors) and finally sends it to the on-failure
queue. Tenant = the item's partition key.
"""

from __future__ import annotations

from datetime import UTC, datetime

from audience.realtime.apply import TenantCache, apply_change
from audience.realtime.changes import ContactChange, change_from_images, erasure
from audience.realtime.live import s3_client
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="contact_stream")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def to_change(record: DynamoDBRecord) -> ContactChange:
    stream = record.raw_event["dynamodb"]
    created = stream.get("ApproximateCreationDateTime")  # epoch seconds
    moment = datetime.fromtimestamp(float(created), UTC) if created is not None else None
    return change_from_images(stream["Keys"], stream.get("NewImage"), moment)


def needs_deciding(raw: dict, cache: TenantCache) -> bool:
    """False for a record with nothing to decide: a change (not an erasure) of a tenant without
    dynamic segments (``TenantCache.quiet``), left out before its image is converted."""
    stream = raw["dynamodb"]
    return erasure(stream.get("NewImage")) or not cache.quiet(stream["Keys"]["pk"]["S"])


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    cache = TenantCache(s3_client)
    try:  # a bulk import into a tenant without segments: every record is left out here
        event = {**event, "Records": [raw for raw in event.get("Records", []) if needs_deciding(raw, cache)]}
    except Exception:  # a bad record fails alone below; leaving records out is only an optimisation
        logger.exception("checking the batch's tenants for dynamic segments failed")
    converted: dict[int, ContactChange] = {}  # id of the raw record -> its change, converted once
    try:
        for raw in event.get("Records", []):
            converted[id(raw)] = to_change(DynamoDBRecord(raw))
        changes = list(converted.values())
        cache.prefetch_claims(changes)  # one transaction per 100 contacts instead of a claim each
        cache.prefetch_events(changes)
    except Exception:  # a bad record fails alone below; prefetching is only an optimisation
        logger.exception("prefetching the batch's claims or activity failed")

    def handle(record: DynamoDBRecord) -> None:
        change = converted.get(id(record.raw_event))
        outcome = apply_change(change if change is not None else to_change(record), cache)
        logger.debug(
            "contact change",
            contact_id=outcome.contact_id,
            status=outcome.status,
            added=outcome.added,
            removed=outcome.removed,
            kept_by_run=outcome.kept_by_run,
        )

    try:
        if not event.get("Records"):  # every record left out (Powertools refuses an empty batch)
            return {"batchItemFailures": []}
        return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    finally:
        cache.flush()  # counts and history of every membership written, failed records or not
