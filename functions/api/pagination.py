"""Opaque, signed ``next_token`` values for list routes.

A token carries the DynamoDB key to resume from, HMAC-SHA256-signed together with the caller's
tenant and the listing it came from (e.g. ``segments`` or ``members:{segment_id}``). A forged or
altered token, or one issued to another tenant or for another listing, is a 400 and never reaches
DynamoDB. (Storage also checks that a resume key lies in the caller's partition: two independent
locks.)

The key comes from ``PAGINATION_SECRET``; without it (local stack, tests) one is derived from the
deployment's table name, which still binds tokens to tenant and listing but is guessable - set
``PAGINATION_SECRET`` in real deployments so tokens cannot be minted outside the service.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from typing import Any

from audience.errors import BadRequest
from audience.settings import get_settings

VERSION = "v1"
MAX_TOKEN_CHARS = 2_048
MAC_BYTES = 20


def _secret() -> bytes:
    configured = os.environ.get("PAGINATION_SECRET")
    if configured:
        return configured.encode("utf-8")
    return hashlib.sha256(f"audience-pagination:{get_settings().main_table}".encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(tenant: str, listing: str, payload: str) -> bytes:
    message = "\n".join((VERSION, tenant, listing, payload)).encode("utf-8")
    return hmac.new(_secret(), message, hashlib.sha256).digest()[:MAC_BYTES]


def encode(tenant: str, listing: str, key: dict[str, Any] | None) -> str | None:
    """The token for resuming ``listing`` after ``key`` (None when there is nothing more)."""
    if key is None:
        return None
    payload = _b64(json.dumps(key, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{VERSION}.{payload}.{_b64(_mac(tenant, listing, payload))}"


def _invalid() -> BadRequest:
    return BadRequest(
        "next_token is invalid: pass back exactly the value a previous page of this list returned",
        [{"path": "?next_token", "message": "invalid or issued for another list"}],
    )


def decode(tenant: str, listing: str, token: str | None) -> dict[str, Any] | None:
    """The resume key in ``token``; None for no token; BadRequest for anything not issued by us
    to this tenant for this listing."""
    if token is None or token == "":
        return None
    if len(token) > MAX_TOKEN_CHARS:
        raise _invalid()
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise _invalid()
    _, payload, mac = parts
    try:
        presented = _unb64(mac)
    except (binascii.Error, ValueError) as exc:
        raise _invalid() from exc
    if not hmac.compare_digest(presented, _mac(tenant, listing, payload)):
        raise _invalid()
    try:
        key = json.loads(_unb64(payload))
    except (binascii.Error, ValueError) as exc:
        raise _invalid() from exc
    if not isinstance(key, dict):
        raise _invalid()
    return key
