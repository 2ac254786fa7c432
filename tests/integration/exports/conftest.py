"""Seeding a tenant's segment on the template's moto resources and delivering JobsQueue messages to
the real exporter handler, as Lambda's SQS integration would."""

from __future__ import annotations

import pytest

TENANT = "t-export"


class LambdaContext:
    """The few attributes Powertools (and the exporter's time budget) read from a Lambda context."""

    function_name = "exporter"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:exporter"
    aws_request_id = "req-export"

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class World:
    """The moto account of one test: helpers to seed data and run queued jobs."""

    def __init__(self, aws, s3, sqs, dynamodb) -> None:
        self.aws, self.s3, self.sqs, self.dynamodb = aws, s3, sqs, dynamodb
        self.queue_url = aws.queue_url("JobsQueue")
        self.bucket = aws.name("ExportBucket")

    def segment(self, contacts: list[dict], tenant: str = TENANT, **options) -> str:
        from audience.storage import contacts_repo, memberships_repo, segments_repo

        segment = segments_repo.create(tenant, name=options.pop("name", "VIP buyers"), type="static", **options)
        ids = [contacts_repo.upsert(tenant, c.get("contact_id"), c).contact_id for c in contacts]
        memberships_repo.add_many(tenant, segment.id, ids)
        return segment.id

    def received(self) -> list[dict]:
        """Every message now visible on JobsQueue, received (so invisible) with its attributes."""
        messages = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
            )
            batch = answer.get("Messages", [])
            if not batch:
                return messages
            messages += batch
            for message in batch:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def deliver(self, messages: list[dict], receive_count: int = 1, remaining_ms: int = 900_000) -> dict:
        """Call the exporter's lambda_handler with these messages as one SQS event."""
        from functions.exporter.app import lambda_handler

        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {**m.get("Attributes", {}), "ApproximateReceiveCount": str(receive_count)},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.aws.arn("JobsQueue"),
                    "awsRegion": self.aws.region,
                }
                for m in messages
            ]
        }
        return lambda_handler(event, LambdaContext(remaining_ms))

    def run_queued(self) -> dict:
        return self.deliver(self.received())

    def download(self, job) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=job.result["object_key"])["Body"].read()


@pytest.fixture
def world(aws, s3, sqs, dynamodb) -> World:
    return World(aws, s3, sqs, dynamodb)
