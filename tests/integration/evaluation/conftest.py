"""One moto session per module (tables emptied between tests); each test uses its own tenant, so the
data bucket's objects of one test never meet another's."""

import itertools

import boto3
import pytest

from tests.integration.module_moto import empty_tables, module_resources

_tenants = itertools.count()


@pytest.fixture(scope="module")
def aws_module():
    yield from module_resources()


@pytest.fixture
def aws(aws_module):
    yield aws_module
    empty_tables(aws_module)


@pytest.fixture
def s3(aws):
    return boto3.client("s3", region_name=aws.region)


@pytest.fixture
def tenant(aws):
    from audience.storage import tenants_repo

    tenant_id = f"eval-{next(_tenants)}"
    tenants_repo.create_tenant(tenant_id, "Evaluation test")
    return tenant_id
