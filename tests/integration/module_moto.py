"""A module-scoped variant of the shared ``aws`` fixture for DynamoDB-only test modules.

The resources come from template.yaml exactly as in tests/conftest.py; only their lifetime differs
(one moto session per module, tables emptied after each test).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
from audience.settings import get_settings
from moto import mock_aws

from infra.template_resources import LocalResources, create_resources


def module_resources() -> Iterator[LocalResources]:
    """moto with every resource of template.yaml, as tests/conftest.py's ``aws`` builds them."""
    with mock_aws():
        get_settings.cache_clear()
        resources = create_resources(boto3.Session(region_name=os.environ["AWS_REGION"]))
        os.environ.update(resources.env())
        yield resources
    get_settings.cache_clear()


def empty_tables(resources: LocalResources) -> None:
    """Delete every item of every table (test-only: a Scan is fine here)."""
    client = boto3.client("dynamodb", region_name=resources.region)
    for table in resources.tables.values():
        keys = [a["AttributeName"] for a in client.describe_table(TableName=table)["Table"]["KeySchema"]]
        for page in client.get_paginator("scan").paginate(TableName=table, ProjectionExpression=", ".join(keys)):
            with_keys = [{"DeleteRequest": {"Key": item}} for item in page["Items"]]
            for start in range(0, len(with_keys), 25):
                client.batch_write_item(RequestItems={table: with_keys[start : start + 25]})
