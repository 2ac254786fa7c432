"""Helpers for import integration tests: seed tenants' fields/segments, run the importer on a
delivered S3 notification."""

from __future__ import annotations

import boto3
import pytest
from audience.settings import get_settings

if "aws" not in globals():  # provisional until the shared template-built fixture lands in tests/conftest.py
    from moto import mock_aws

    @pytest.fixture
    def aws(monkeypatch):
        env = {
            "MAIN_TABLE": "t-main",
            "CONTACTS_TABLE": "t-contacts",
            "MEMBERSHIPS_TABLE": "t-members",
            "IDEMPOTENCY_TABLE": "t-idem",
            "IMPORT_BUCKET": "t-imports",
            "DATA_BUCKET": "t-data",
            "EXPORT_BUCKET": "t-exports",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_TRACE_DISABLED": "1",
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        get_settings.cache_clear()
        with mock_aws():
            ddb = boto3.client("dynamodb")
            attrs = [{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")]
            keys = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
            gsi_keys = [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ]
            ddb.create_table(
                TableName="t-main",
                AttributeDefinitions=attrs[:2],
                KeySchema=keys,
                BillingMode="PAY_PER_REQUEST",
            )
            for name, index in (("t-contacts", "by_updated"), ("t-members", "by_contact")):
                ddb.create_table(
                    TableName=name,
                    AttributeDefinitions=attrs,
                    KeySchema=keys,
                    BillingMode="PAY_PER_REQUEST",
                    GlobalSecondaryIndexes=[
                        {"IndexName": index, "KeySchema": gsi_keys, "Projection": {"ProjectionType": "ALL"}}
                    ],
                )
            s3 = boto3.client("s3")
            for bucket in ("t-imports", "t-data", "t-exports"):
                s3.create_bucket(Bucket=bucket)
            yield
        get_settings.cache_clear()
