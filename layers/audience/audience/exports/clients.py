"""boto3 clients for the deployment's settings, made once per process and only when first used."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from audience.settings import Settings


@dataclass
class Clients:
    """boto3 clients for the deployment's settings (the local stack's endpoint when set)."""

    settings: Settings

    def _client(self, name: str, **options: Any) -> Any:
        return boto3.client(
            name, region_name=self.settings.region, endpoint_url=self.settings.aws_endpoint_url, **options
        )

    @cached_property
    def s3(self) -> Any:
        # SigV4 presigned URLs: accepted in every region, expiry stated in the URL (at most 7 days).
        return self._client("s3", config=Config(signature_version="s3v4"))

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @cached_property
    def sqs(self) -> Any:
        return self._client("sqs")
