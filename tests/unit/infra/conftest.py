"""Shared set-up of the local moto patches' tests: a DynamoDB client on moto's in-process mock."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws


@pytest.fixture
def moto_dynamodb(monkeypatch):
    """A DynamoDB client of moto's in-process mock (dummy credentials); each test creates its tables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def create_pk_sk_table(client, name: str = "t", *, stream: bool = False) -> dict:
    """A pay-per-request table keyed by string ``pk`` and ``sk`` (with a new-and-old-images stream when
    asked): the table most patch tests compare patched and unpatched moto on. Its description."""
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}
    return client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )["TableDescription"]
