"""The template's asynchronous wiring, run locally: SQS event sources, the DynamoDB stream, schedules.

moto stores messages and stream records but never invokes a function (no Docker), so these loops
play the part of Lambda's pollers and EventBridge, with the semantics AWS applies:

* SQS: batches of `BatchSize`; with `ReportBatchItemFailures` only the reported messages return to
  the queue, otherwise a raised error returns the whole batch; moto's redrive moves a message to
  the DLQ after `maxReceiveCount` receives. Time is compressed: a failed message becomes visible
  again after `retry_delay` seconds instead of the queue's (long) visibility timeout.
* DynamoDB stream: batches in shard order; on error the batch is bisected (`BisectBatchOnFunctionError`),
  partial failures resume from the first failed record, and after `MaximumRetryAttempts` the
  batch's description goes to the `OnFailure` destination queue, as Lambda does.
* Schedule: `rate(...)` and `cron(...)` expressions (AWS's six-field cron, converted for croniter).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from infra.local_functions import LocalFunction
from infra.template_resources import EventSpec, LocalResources, _referenced_logical_id

log = logging.getLogger("localstack")


# ---------------------------------------------------------------- schedules

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def next_fire_time(expression: str, after: datetime) -> datetime:
    """The first instant after `after` that an EventBridge `rate()`/`cron()` expression selects (UTC)."""
    expression = expression.strip()
    rate = _RATE.match(expression)
    if rate:
        amount, unit = int(rate[1]), rate[2].rstrip("s")
        step = {
            "minute": timedelta(minutes=amount),
            "hour": timedelta(hours=amount),
            "day": timedelta(days=amount),
        }
        return after + step[unit]
    cron = _CRON.match(expression)
    if not cron:
        raise ValueError(f"not a schedule expression: {expression!r}")
    from croniter import croniter

    fields = cron[1].split()
    if len(fields) != 6:
        raise ValueError(f"AWS cron takes 6 fields (min hour day month weekday year): {expression!r}")
    minute, hour, day, month, weekday, year = fields
    weekday = re.sub(r"\d+", lambda m: str((int(m[0]) - 1) % 7), weekday)  # AWS: 1 = SUNDAY
    iterator = croniter(" ".join((minute, hour, day, month, weekday)), after.astimezone(UTC))
    for _ in range(10_000):
        candidate = iterator.get_next(datetime)
        if year in ("*", "?") or str(candidate.year) in _expand_years(year):
            return candidate
    raise ValueError(f"{expression!r} never fires")


def _expand_years(spec: str) -> set[str]:
    years: set[str] = set()
    for part in spec.split(","):
        if "-" in part:
            low, high = part.split("-")
            years.update(str(y) for y in range(int(low), int(high) + 1))
        else:
            years.add(part)
    return years


def scheduled_event(resources: LocalResources, rule_name: str, at: datetime) -> dict[str, Any]:
    """The event EventBridge sends a target on a schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": resources.account_id,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": resources.region,
        "resources": [f"arn:aws:events:{resources.region}:{resources.account_id}:rule/{rule_name}"],
        "detail": {},
    }


class Scheduler(threading.Thread):
    """Invokes a function on its template schedule until `stop` is set."""

    def __init__(
        self, function: LocalFunction, event: EventSpec, resources: LocalResources, stop: threading.Event
    ) -> None:
        super().__init__(name=f"schedule-{function.name}-{event.name}", daemon=True)
        self.function, self.event, self.resources, self.stop = function, event, resources, stop
        self.expression = str(event.properties["Schedule"])
        self.rule_name = f"{resources.prefix}-{function.name}-{event.name}"

    def run(self) -> None:
        while not self.stop.is_set():
            now = datetime.now(UTC)
            fire_at = next_fire_time(self.expression, now)
            log.info(
                "schedule %s: next run of %s at %s",
                self.expression,
                self.function.name,
                fire_at.strftime("%Y-%m-%d %H:%M:%SZ"),
            )
            if self.stop.wait((fire_at - now).total_seconds()):
                return
            try:
                result = self.function.invoke(scheduled_event(self.resources, self.rule_name, fire_at))
                log.info("scheduled %s finished: %s", self.function.name, _short(result))
            except Exception:
                log.exception("scheduled %s failed", self.function.name)


# ---------------------------------------------------------------- SQS


def sqs_event_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event Lambda's SQS poller builds from a received message."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", ""),
            "SenderId": attributes.get("SenderId", ""),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", ""),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": base64.b64encode(value["BinaryValue"]).decode()
                if "BinaryValue" in value
                else None,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsPoller(threading.Thread):
    """Lambda's SQS event source mapping for one function event."""

    def __init__(
        self,
        function: LocalFunction,
        event: EventSpec,
        resources: LocalResources,
        sqs: Any,
        stop: threading.Event,
        retry_delay: int = 2,
    ) -> None:
        super().__init__(name=f"sqs-{function.name}-{event.name}", daemon=True)
        self.function, self.resources, self.sqs, self.stop = function, resources, sqs, stop
        self.queue_id = _referenced_logical_id(event.properties["Queue"])
        self.queue_url = resources.queue_url(self.queue_id)
        self.queue_arn = resources.arn(self.queue_id)
        self.batch_size = min(int(event.properties.get("BatchSize", 10)), 10)
        self.partial = "ReportBatchItemFailures" in (event.properties.get("FunctionResponseTypes") or [])
        self.retry_delay = retry_delay

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception:
                if self.stop.is_set():
                    return
                log.exception("polling %s failed", self.queue_id)
                self.stop.wait(1)

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and deliver it; returns the number of messages received."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            self.deliver(messages)
        return len(messages)

    def deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_event_record(m, self.queue_arn, self.resources.region) for m in messages]}
        failed_ids: set[str]
        try:
            response = self.function.invoke(event)
        except Exception:
            log.exception(
                "%s failed on %d message(s) from %s; they will be retried",
                self.function.name,
                len(messages),
                self.queue_id,
            )
            failed_ids = {m["MessageId"] for m in messages}
        else:
            failed_ids = set()
            if self.partial and isinstance(response, dict):
                failed_ids = {item["itemIdentifier"] for item in response.get("batchItemFailures") or []}
            if failed_ids:
                log.warning(
                    "%s reported %d failed message(s) from %s",
                    self.function.name,
                    len(failed_ids),
                    self.queue_id,
                )
        for message in messages:
            if message["MessageId"] in failed_ids:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay,
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


# ---------------------------------------------------------------- DynamoDB stream


def get_records_as_sent(http: Any, endpoint: str, region: str, iterator: str, limit: int) -> dict[str, Any]:
    """GetRecords read as the JSON the stream sends (AttributeValue JSON, base64 binaries, epoch
    seconds), which is what Lambda hands the function: botocore's parser would turn binaries into
    bytes and times into datetimes only for ``stream_event_record`` to turn them back, and for a
    batch of full contact images that round trip cost the local stream poller a third of its time."""
    scope = f"local/20000101/{region}/dynamodb/aws4_request"  # moto routes by the credential's service
    credential = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"
    answer = http.post(endpoint, data=json.dumps({"ShardIterator": iterator, "Limit": limit}), timeout=60, headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDBStreams_20120810.GetRecords",
        "Authorization": credential,
    })
    if answer.status_code != 200:
        raise RuntimeError(f"GetRecords answered {answer.status_code}: {answer.text[:500]}")
    return answer.json()


def stream_event_record(
    record: dict[str, Any], stream_arn: str, region: str, *, as_sent: bool = False
) -> dict[str, Any]:
    """A stream record as Lambda delivers it (AttributeValue JSON, epoch seconds, base64 binaries);
    ``as_sent``: read as JSON already (``get_records_as_sent``), with nothing left to convert."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    elif isinstance(created, float):  # as sent: epoch seconds to the millisecond
        dynamodb["ApproximateCreationDateTime"] = int(created)
    event_id = record.get("eventID")
    return {
        # drawn only for a record without one: ``get``'s default was drawn for every record (os.urandom
        # and a UUID, ~5% of the local poller's time handing over an import's records)
        "eventID": event_id if event_id is not None else uuid.uuid4().hex,
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb if as_sent else _jsonable(dynamodb),
        "eventSourceARN": stream_arn,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_jsonable(v) for v in value]
    return value


GET_RECORDS_LIMIT = 1000  # GetRecords' own maximum: records read per request, then handed over in batches


class StreamPoller(threading.Thread):
    """Lambda's DynamoDB stream event source mapping for one function event. Like Lambda's poller it
    reads a shard up to 1,000 records a GetRecords and hands them over in batches of ``BatchSize``, in
    order: a stream that lags an import catches up in a tenth of the requests to moto (each waits for
    the moto lock the import's writes hold)."""

    def __init__(
        self,
        function: LocalFunction,
        event: EventSpec,
        resources: LocalResources,
        streams: Any,
        sqs: Any,
        stop: threading.Event,
        retry_delay: float = 0.5,
        poll_interval: float = 0.5,
    ) -> None:
        super().__init__(name=f"stream-{function.name}-{event.name}", daemon=True)
        self.function, self.resources, self.streams, self.sqs, self.stop = (
            function,
            resources,
            streams,
            sqs,
            stop,
        )
        props = event.properties
        self.table_id = _referenced_logical_id(props["Stream"])
        self.stream_arn = resources.stream_arns[self.table_id]
        self.batch_size = int(props.get("BatchSize", 100))
        self.bisect = bool(props.get("BisectBatchOnFunctionError", False))
        self.max_retries = int(props.get("MaximumRetryAttempts", -1))
        self.partial = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        self.starting_position = str(props.get("StartingPosition", "LATEST"))
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        failure_queue = _referenced_logical_id(on_failure) if on_failure else None
        self.failure_queue_url = resources.queue_url(failure_queue) if failure_queue else None
        self.retry_delay, self.poll_interval = retry_delay, poll_interval
        self._iterators: dict[str, str] = {}
        self._http = requests.Session()  # GetRecords as sent (``get_records_as_sent``), kept alive
        self.ready = threading.Event()
        self.empty_polls = 0  # polls that found nothing new: the function has seen the whole stream
        self._wake = threading.Event()  # set: poll now instead of at the end of the idle interval

    def wait_until_caught_up(self, timeout: float) -> bool:
        """Block until the function has been handed every record written before this call (two
        empty polls after it: the second began after the first ended); False on timeout or stop.

        The poller is woken for those polls rather than left to sleep out its idle interval between
        them (the demo waited up to two intervals after the stream had caught up): a poll sooner
        only asks the stream earlier, it delivers the same records in the same order."""
        wanted = self.empty_polls + 2
        deadline = time.monotonic() + timeout
        while self.empty_polls < wanted:
            if self.stop.is_set() or time.monotonic() > deadline or not self.is_alive():
                return False
            self._wake.set()
            time.sleep(0.01)
        return True

    def run(self) -> None:
        try:
            self._open_shards()
        finally:
            self.ready.set()
        while not self.stop.is_set():
            try:
                if not self.poll_once():
                    self.empty_polls += 1
                    self._idle()
            except Exception:
                if self.stop.is_set():
                    return
                log.exception("polling the %s stream failed", self.table_id)
                self.stop.wait(1)

    def _idle(self) -> None:
        """Wait out the idle interval, or less when stopped or woken (``wait_until_caught_up``)."""
        deadline = time.monotonic() + self.poll_interval
        while not self.stop.is_set() and not self._wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wake.wait(min(left, 0.05))
        self._wake.clear()

    def _open_shards(self) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard["ShardId"],
                    ShardIteratorType=self.starting_position,
                )["ShardIterator"]

    def poll_once(self) -> int:
        self._open_shards()
        delivered = 0
        for shard_id, iterator in list(self._iterators.items()):
            if not iterator:
                continue
            answer = get_records_as_sent(self._http, self.streams.meta.endpoint_url, self.resources.region, iterator,
                                         max(self.batch_size, GET_RECORDS_LIMIT))
            self._iterators[shard_id] = answer.get("NextShardIterator")
            records = [
                stream_event_record(r, self.stream_arn, self.resources.region, as_sent=True) for r in answer["Records"]
            ]
            for first in range(0, len(records), self.batch_size):  # in order, each batch as Lambda hands it
                self.deliver(records[first : first + self.batch_size], shard_id)
            delivered += len(records)
        return delivered

    def deliver(self, records: list[dict[str, Any]], shard_id: str) -> None:
        """Deliver a batch until it succeeds, bisecting and retrying as the event source mapping says."""
        attempts = 0
        pending = records
        while pending and not self.stop.is_set():
            raised = False
            try:
                response = self.function.invoke({"Records": pending})
                failed = self._first_failed(response, pending)
            except Exception:
                log.exception("%s failed on %d stream record(s)", self.function.name, len(pending))
                raised, failed = True, 0
            if failed is None:
                return
            pending = pending[failed:]
            if raised and self.bisect and len(pending) > 1:
                middle = len(pending) // 2
                self.deliver(pending[:middle], shard_id)
                self.deliver(pending[middle:], shard_id)
                return
            attempts += 1
            if 0 <= self.max_retries < attempts:
                self._send_to_failure_destination(pending, shard_id, attempts)
                return
            self.stop.wait(self.retry_delay)

    def _first_failed(self, response: Any, records: list[dict[str, Any]]) -> int | None:
        if not self.partial or not isinstance(response, dict):
            return None
        failures = [f["itemIdentifier"] for f in response.get("batchItemFailures") or []]
        if not failures:
            return None
        sequence = [r["dynamodb"].get("SequenceNumber") for r in records]
        positions = [sequence.index(f) for f in failures if f in sequence]
        return min(positions) if positions else 0

    def _send_to_failure_destination(
        self, records: list[dict[str, Any]], shard_id: str, attempts: int
    ) -> None:
        log.error(
            "%s gave up on %d stream record(s) after %d attempts", self.function.name, len(records), attempts
        )
        if not self.failure_queue_url:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.resources.region}:{self.resources.account_id}:function:"
                f"{self.function.name}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first.get("SequenceNumber"),
                "endSequenceNumber": last.get("SequenceNumber"),
                "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=self.failure_queue_url, MessageBody=json.dumps(body))


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "..."
