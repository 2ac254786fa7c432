"""One moto session per test module for these tests, tables emptied between tests.

Same template-built resources as the shared ``aws`` fixture (tests/conftest.py), created once per
module instead of once per test: these tests only touch DynamoDB, and emptying three tables is far
cheaper than re-creating every table, bucket and queue of the template for each test.
"""

import pytest

from tests.integration.module_moto import empty_tables, module_resources


@pytest.fixture(scope="module")
def aws_module():
    yield from module_resources()


@pytest.fixture
def aws(aws_module):
    yield aws_module
    empty_tables(aws_module)
