"""boto3 clients for the deployment's settings, made once per process and only when first used."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
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


@lru_cache(maxsize=4)
def clients_for(settings: Settings) -> Clients:
    """The container's clients for these settings, built once and shared by every request (a boto3
    client costs tens of milliseconds of CPU to build). Clients carry no tenant: each call names the
    tenant in its keys and prefixes, so sharing them across requests keeps tenants apart."""
    return Clients(settings)
