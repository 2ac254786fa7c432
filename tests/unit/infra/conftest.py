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
