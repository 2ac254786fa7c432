"""A fresh in-process moto holding every resource of template.yaml, for the benchmarks that drive
the real handlers without the local stack's server (exports, events, stream): one set-up, so each
benchmark measures its own work on the same resources the tests and the local stack use."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DEFAULT_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "1",
}


@contextmanager
def template_moto(**env: str) -> Iterator[Any]:
    """``mock_aws`` with the template's tables, buckets and queues created and their names in the
    environment (``env``: more defaults, such as a log level); yields the ``LocalResources``."""
    import boto3
    from moto import mock_aws

    from infra.template_resources import create_resources, load_template, plan_resources

    for key, value in {**DEFAULT_ENV, **env}.items():
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    planned = plan_resources(load_template())
    os.environ.update(planned.env())
    from audience.settings import get_settings

    with mock_aws():
        get_settings.cache_clear()
        resources = create_resources(boto3.Session(region_name=planned.region))
        os.environ.update(resources.env())
        get_settings.cache_clear()
        try:
            yield resources
        finally:
            get_settings.cache_clear()  # the next user of the settings reads its own environment
