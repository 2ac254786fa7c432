"""The local stack's pollers on the template's own queues and stream: AWS's retry and DLQ behaviour."""

from __future__ import annotations

import json
import threading

import boto3

from infra.local_triggers import SqsPoller, StreamPoller


class RecordingFunction:
    """Stands in for a Lambda handler: records every batch, fails the records `fails` picks."""

    def __init__(self, name: str, fails=lambda record: False, raise_on_failure: bool = False) -> None:
        self.name = name
        self.fails = fails
        self.raise_on_failure = raise_on_failure
        self.batches: list[list[dict]] = []

    def invoke(self, event: dict) -> dict:
        records = event["Records"]
        self.batches.append(records)
        failed = [r for r in records if self.fails(r)]
        if failed and self.raise_on_failure:
            raise RuntimeError("poison record in batch")
        ids = [r.get("messageId") or r["dynamodb"]["SequenceNumber"] for r in failed]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


def _event(aws, function_id: str, event_type: str, name: str | None = None):
    events = aws.template.function(function_id).events_of_type(event_type)
    [event] = [e for e in events if name is None or e.name == name]
    return event


def test_sqs_partial_failure_retries_only_the_failed_message_then_dead_letters_it(aws, sqs):
    url = aws.queue_url("JobsQueue")
    for body in ("good", "poison"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    function = RecordingFunction("ExporterFunction", fails=lambda r: r["body"] == "poison")
    poller = SqsPoller(
        function, _event(aws, "ExporterFunction", "SQS"), aws, sqs, threading.Event(), retry_delay=0
    )
    while poller.poll_once():
        pass
    delivered = [r["body"] for batch in function.batches for r in batch]
    assert delivered.count("good") == 1
    assert delivered.count("poison") == 3  # maxReceiveCount in the template
    dlq = aws.queue_url(aws.dead_letter_queue_of("JobsQueue"))
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq)["Messages"]] == ["poison"]


def test_import_queue_delivers_s3_notifications_as_sqs_records(aws, s3, sqs):
    function = RecordingFunction("ImporterFunction")
    poller = SqsPoller(function, _event(aws, "ImporterFunction", "SQS", "Uploads"), aws, sqs, threading.Event())
    s3.put_object(Bucket=aws.name("ImportBucket"), Key="tenants/acme/imports/j1/leads.csv", Body=b"email\n")
    while poller.poll_once():
        pass
    bodies = [json.loads(r["body"]) for batch in function.batches for r in batch]
    assert bodies[0]["Event"] == "s3:TestEvent"  # S3 sends it when the notification is configured
    assert bodies[1]["Records"][0]["eventName"].startswith("ObjectCreated")
    assert {r["eventSourceARN"] for batch in function.batches for r in batch} == {aws.arn("ImportQueue")}


def _stream_poller(aws, sqs, function):
    # botocore's account-based streams endpoint (123456789012.streams-ddb...) is unknown to moto 5.2.5.
    endpoint = f"https://streams.dynamodb.{aws.region}.amazonaws.com"
    streams = boto3.client("dynamodbstreams", region_name=aws.region, endpoint_url=endpoint)
    event = _event(aws, "ContactStreamFunction", "DynamoDB")
    poller = StreamPoller(function, event, aws, streams, sqs, threading.Event(), retry_delay=0)
    poller._open_shards()
    return poller


def _put_contacts(dynamodb, aws, ids):
    for contact_id in ids:
        dynamodb.put_item(
            TableName=aws.name("ContactsTable"),
            Item={"pk": {"S": "acme"}, "sk": {"S": contact_id}, "fields": {"M": {"score": {"N": "1"}}}},
        )


def test_stream_error_bisects_the_batch_and_sends_the_poison_record_to_the_on_failure_queue(
    aws, dynamodb, sqs
):
    function = RecordingFunction(
        "ContactStreamFunction",
        fails=lambda r: r["dynamodb"]["Keys"]["sk"]["S"] == "c3",
        raise_on_failure=True,
    )
    poller = _stream_poller(aws, sqs, function)
    _put_contacts(dynamodb, aws, ["c1", "c2", "c3", "c4"])
    assert poller.poll_once() == 4
    succeeded = {
        r["dynamodb"]["Keys"]["sk"]["S"] for batch in function.batches for r in batch if not function.fails(r)
    }
    assert succeeded == {"c1", "c2", "c4"}
    [message] = sqs.receive_message(QueueUrl=aws.queue_url("StreamDLQ"))["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == aws.stream_arns["ContactsTable"]


def test_stream_partial_failure_resumes_from_the_first_failed_record(aws, dynamodb, sqs):
    attempts = {"c2": 0}

    def fails_once(record):
        key = record["dynamodb"]["Keys"]["sk"]["S"]
        if key != "c2":
            return False
        attempts["c2"] += 1
        return attempts["c2"] == 1

    function = RecordingFunction("ContactStreamFunction", fails=fails_once)
    poller = _stream_poller(aws, sqs, function)
    _put_contacts(dynamodb, aws, ["c1", "c2", "c3"])
    poller.poll_once()
    keys = [[r["dynamodb"]["Keys"]["sk"]["S"] for r in batch] for batch in function.batches]
    assert keys == [["c1", "c2", "c3"], ["c2", "c3"]]
    assert [r["eventName"] for r in function.batches[0]] == ["INSERT"] * 3
    assert sqs.receive_message(QueueUrl=aws.queue_url("StreamDLQ")).get("Messages", []) == []


def test_waiting_for_the_stream_to_catch_up_polls_at_once_instead_of_sleeping_out_the_idle_interval(
    aws, dynamodb, sqs
):
    """The demo waits for the contact stream before it creates its segments: the poller is woken for
    the polls that prove it caught up, not left to sleep its idle interval between them."""
    import time

    function = RecordingFunction("ContactStreamFunction")
    endpoint = f"https://streams.dynamodb.{aws.region}.amazonaws.com"
    streams = boto3.client("dynamodbstreams", region_name=aws.region, endpoint_url=endpoint)
    stop = threading.Event()
    poller = StreamPoller(function, _event(aws, "ContactStreamFunction", "DynamoDB"), aws, streams, sqs, stop,
                          retry_delay=0, poll_interval=60)
    poller.start()
    try:
        assert poller.ready.wait(10)
        while poller.empty_polls == 0:  # idle now, for a minute
            time.sleep(0.01)
        _put_contacts(dynamodb, aws, ["c1", "c2"])
        began = time.monotonic()
        assert poller.wait_until_caught_up(timeout=20)
        assert time.monotonic() - began < 20
        assert [r["dynamodb"]["Keys"]["sk"]["S"] for batch in function.batches for r in batch] == ["c1", "c2"]
    finally:
        stop.set()
        poller.join(5)
    assert not poller.is_alive()


def test_the_stream_poller_reads_many_records_a_request_and_hands_them_over_in_batches_in_order(
    aws, dynamodb, sqs
):
    function = RecordingFunction("ContactStreamFunction")
    poller = _stream_poller(aws, sqs, function)
    ids = [f"c{i:03d}" for i in range(250)]
    _put_contacts(dynamodb, aws, ids)
    reads = []
    post = poller._http.post
    poller._http.post = lambda *args, **kwargs: reads.append(kwargs["data"]) or post(*args, **kwargs)
    assert poller.poll_once() == 250
    assert len(reads) == 1  # one GetRecords for the 250 records, not one per batch
    assert [len(batch) for batch in function.batches] == [100, 100, 50]  # the template's BatchSize
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for batch in function.batches for r in batch] == ids
    assert poller.poll_once() == 0
