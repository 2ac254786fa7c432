"""Real-time membership on moto: the API writes contacts, the ContactsTable stream (moto's own) is
read with the local stack's poller and delivered to the contact_stream handler."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from audience.storage import segments_repo
from audience.storage.models import ContactItem

from infra.local_triggers import StreamPoller
from tests.integration.api.conftest import FakeLambdaContext, api_call  # noqa: F401


class StreamTap:
    """Collects the stream's records; ``deliver`` hands them to the real handler as Lambda would."""

    name = "ContactStreamFunction"

    def __init__(self, aws):
        endpoint = f"https://streams.dynamodb.{aws.region}.amazonaws.com"  # moto's streams endpoint
        streams = boto3.client("dynamodbstreams", region_name=aws.region, endpoint_url=endpoint)
        sqs = boto3.client("sqs", region_name=aws.region)
        [event] = aws.template.function(self.name).events_of_type("DynamoDB")
        self.poller = StreamPoller(self, event, aws, streams, sqs, threading.Event(), retry_delay=0)
        self.poller._open_shards()
        self.captured: list[dict] = []

    def invoke(self, event: dict) -> dict:  # the poller calls this as it would call the function
        self.captured.extend(event["Records"])
        return {"batchItemFailures": []}

    def take(self) -> list[dict]:
        """Every record written since the last call."""
        while self.poller.poll_once():
            pass
        records, self.captured = self.captured, []
        return records

    @staticmethod
    def deliver(records: list[dict]) -> dict:
        from functions.contact_stream.app import lambda_handler

        return lambda_handler({"Records": records}, FakeLambdaContext(function_name="contact_stream"))

    def flush(self) -> dict:
        return self.deliver(self.take())


class FrozenDay:
    """The stream path's "today" (``realtime.apply._today``, the one place it reads the date), fixed
    when the test starts and moved only by ``advance``: a run crossing midnight UTC writes and reads
    the same day, and a test can open the next day on purpose."""

    def __init__(self, day: str) -> None:
        self.day = day

    def advance(self, days: int = 1) -> str:
        self.day = (date.fromisoformat(self.day) + timedelta(days=days)).isoformat()
        return self.day


@pytest.fixture
def frozen_day(monkeypatch) -> FrozenDay:
    from audience.realtime import apply

    frozen = FrozenDay(datetime.now(UTC).date().isoformat())
    monkeypatch.setattr(apply, "_today", lambda: frozen.day)
    return frozen


@pytest.fixture
def local_moto(aws):
    """moto as the local stack runs it (``infra.local_moto.install_patches``): a transaction backs up
    the items it names instead of deep-copying every table it touches, with moto's answers kept (the
    patches' own tests compare them with plain moto). For modules of many 100-action transactions."""
    from infra.local_moto import install_patches, uninstall_patches

    install_patches()
    try:
        yield aws
    finally:
        uninstall_patches()


@pytest.fixture
def stream(aws):
    return StreamTap(aws)


@pytest.fixture
def tenant(aws):
    from audience.tenants import create_tenant

    return create_tenant("Realtime")[0]


def modify_record(
    tenant: str, contact_id: str, fields: dict, sequence: int, stamp: str = "2025-06-01T12:00:00.000Z"
) -> dict:
    """A ContactsTable stream MODIFY record of the contact with ``fields``, changed at ``stamp``, as
    Lambda delivers it (built without the API, for the handler's request and decision tests)."""
    image = ContactItem(
        tenant,
        contact_id,
        fields=fields,
        created_at=stamp,
        updated_at=stamp,
        erased=False,
        gsi1pk=tenant,
        gsi1sk=f"{stamp}#{contact_id}",
        version=1,
    ).serialize()
    return {
        "eventID": str(sequence),
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2025, 6, 1, 12, tzinfo=UTC).timestamp(),
            "Keys": {"pk": {"S": tenant}, "sk": {"S": contact_id}},
            "NewImage": image,
            "SequenceNumber": f"{sequence:021d}",
            "StreamViewType": "NEW_IMAGE",
        },
    }


def score_segments(tenant: str, count: int, *, step: int = 1) -> str:
    """``count`` dynamic segments ``s000``, ``s001``, ... each "score >= i * step"; the tenant."""
    for i in range(count):
        segments_repo.create(
            tenant,
            name=f"score {i}",
            type="dynamic",
            segment_id=f"s{i:03d}",
            rules={"field": "score", "op": "gte", "value": i * step},
        )
    return tenant
