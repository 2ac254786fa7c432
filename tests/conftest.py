"""Shared test setup: fake AWS credentials, the template's resource names, and the `aws` fixture.

Everything at module level runs before any test module is imported, so Powertools and pynamodb see
these variables when they read settings at import time. Credentials are fake on purpose: nothing
here may ever reach a real AWS account.

Fixtures:
    aws       -- function scope: `mock_aws()` active, every table/bucket/queue of template.yaml created
                 from the template's own definitions; yields `infra.template_resources.LocalResources`.
    s3, dynamodb, sqs -- boto3 clients bound to that mock (request `aws` implicitly).
"""

from __future__ import annotations

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "SegmentsTest",
        "POWERTOOLS_SERVICE_NAME": "segments-test",
        "POWERTOOLS_DEV": "false",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

from infra.template_resources import create_resources, load_template, plan_resources  # noqa: E402

# Resource names are deterministic, so they can be exported before any handler or model is imported.
PLANNED_RESOURCES = plan_resources(load_template())
os.environ.update(PLANNED_RESOURCES.env())

import boto3  # noqa: E402
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402


def _clear_settings_cache() -> None:
    """Models rebind to a fresh Settings object (and drop cached connections) per test."""
    try:
        from audience.settings import get_settings
    except ImportError:  # the layer is not importable in this test run
        return
    get_settings.cache_clear()


@pytest.fixture
def aws():
    """moto with every resource of template.yaml; yields the LocalResources (names, URLs, env())."""
    with mock_aws():
        _clear_settings_cache()
        resources = create_resources(boto3.Session(region_name=PLANNED_RESOURCES.region))
        os.environ.update(resources.env())
        yield resources
    _clear_settings_cache()


@pytest.fixture
def s3(aws):
    return boto3.client("s3", region_name=aws.region)


@pytest.fixture
def dynamodb(aws):
    return boto3.client("dynamodb", region_name=aws.region)


@pytest.fixture
def sqs(aws):
    return boto3.client("sqs", region_name=aws.region)
