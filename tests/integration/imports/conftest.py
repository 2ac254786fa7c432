"""One template-built moto session per test module (tests/integration/module_moto.py), emptied
after each test: tables, the template's buckets and queues. The importer tests touch all three, and
re-creating every resource of the template for each test cost more than the tests themselves."""

from __future__ import annotations

import boto3
import pytest

from tests.integration.module_moto import empty_tables, module_resources


@pytest.fixture(scope="module")
def aws_module():
    yield from module_resources()


@pytest.fixture
def aws(aws_module):
    yield aws_module
    empty_tables(aws_module)
    s3 = boto3.client("s3", region_name=aws_module.region)
    for bucket in aws_module.buckets.values():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    sqs = boto3.client("sqs", region_name=aws_module.region)
    for url in aws_module.queues.values():  # PurgeQueue is rate-limited (once a minute): drain
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
