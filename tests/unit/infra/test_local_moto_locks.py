"""The local stack's moto answers a read either before or after a concurrent update, never halfway."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.dynamodb.models.dynamo_type import DynamoType

from infra.local_moto import install_patches, make_local_server, uninstall_patches
from tests.unit.infra.conftest import create_pk_sk_table

KEY = {"pk": {"S": "tenant#jobs"}, "sk": {"S": "job#1"}}


@pytest.fixture
def patched_server(monkeypatch):
    """An in-process local moto server with every local patch; its URL."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    install_patches()
    server = make_local_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        uninstall_patches()


def _client(url: str) -> Any:
    return boto3.client(
        "dynamodb", region_name="us-east-1", endpoint_url=url, config=Config(retries={"max_attempts": 1})
    )


def test_a_read_during_a_two_attribute_update_sees_both_attributes_or_neither(patched_server, monkeypatch):
    writer, reader = _client(patched_server), _client(patched_server)
    create_pk_sk_table(writer, "jobs")
    writer.put_item(TableName="jobs", Item={**KEY, "status": {"S": "running"}})

    # The update stalls between its two assignments (moto builds the second value after storing the
    # first) while a reader asks for the item.
    mid_update = threading.Event()
    build = DynamoType.__init__

    def stalling_build(self: DynamoType, value: Any) -> None:
        build(self, value)
        if value == {"S": "exports/job-1.csv"} and not mid_update.is_set():
            mid_update.set()
            time.sleep(0.5)

    monkeypatch.setattr(DynamoType, "__init__", stalling_build)
    seen: list[dict[str, Any]] = []

    def read_mid_update() -> None:
        assert mid_update.wait(10)
        seen.append(reader.get_item(TableName="jobs", Key=KEY, ConsistentRead=True)["Item"])

    thread = threading.Thread(target=read_mid_update)
    thread.start()
    writer.update_item(
        TableName="jobs",
        Key=KEY,
        UpdateExpression="SET #s = :s, #r = :r",
        ExpressionAttributeNames={"#s": "status", "#r": "result"},
        ExpressionAttributeValues={":s": {"S": "succeeded"}, ":r": {"S": "exports/job-1.csv"}},
    )
    thread.join(10)

    assert mid_update.is_set()
    assert seen == [{**KEY, "status": {"S": "succeeded"}, "result": {"S": "exports/job-1.csv"}}]
