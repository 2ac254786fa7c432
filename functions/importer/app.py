"""Importer: SQS messages carrying S3 ObjectCreated notifications from the import bucket, and the
chunks of a large file from ImportChunksQueue.

Thin shell: parse the message (skip ``s3:TestEvent``, URL-decode keys), hand each object or chunk to
``audience.imports.use_case``. A record that raises is reported in ``batchItemFailures`` so SQS
retries it and finally moves it to the dead-letter queue.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import unquote_plus

import boto3
from audience.imports.chunks import is_chunk_message
from audience.imports.use_case import ImportServices, handle_chunk, handle_object
from audience.settings import get_settings
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger(service="importer")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


_services: list[ImportServices] = []  # the environment's clients, for the settings they were made for
_services_lock = threading.Lock()


def services() -> ImportServices:
    """The environment's clients, made once for the current settings and kept across invocations
    (a warm Lambda container keeps them too): three new boto3 clients per record cost ~10-20 ms of
    CPU each, and a 5 MB import hands the function a record per 5,000-row chunk."""
    settings = get_settings()
    with _services_lock:
        if _services and _services[0].settings is settings:
            return _services[0]
        made = ImportServices(
            ddb=boto3.client("dynamodb", region_name=settings.region),
            s3=boto3.client("s3", region_name=settings.region),
            settings=settings,
            sqs=boto3.client("sqs", region_name=settings.region),
        )
        _services[:] = [made]
        return made


def record_handler(record: SQSRecord) -> list[str]:
    notification = json.loads(record.body)
    if is_chunk_message(notification):
        receives = int(record.attributes.approximate_receive_count or 1)
        outcome = handle_chunk(services(), notification, receives)
        logger.info("chunk processed", outcome=outcome)
        return [outcome]
    if notification.get("Event") == "s3:TestEvent":
        return []
    done = []
    deps = services()
    for entry in notification.get("Records", []):
        if not str(entry.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = entry["s3"]
        key = unquote_plus(s3["object"]["key"])
        etag = s3["object"].get("eTag") or s3["object"].get("versionId") or s3["object"].get("sequencer", "")
        outcome = handle_object(deps, s3["bucket"]["name"], key, etag, int(s3["object"].get("size", 0)))
        logger.info("object processed", key=key, outcome=outcome)
        done.append(outcome)
    return done


@logger.inject_lambda_context
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
