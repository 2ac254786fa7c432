"""What every route reads from the request besides its declared parameters: the tenant (only from
the authorizer context), the caller's scopes, the raw JSON body and ``If-Match``.

Routers call these with themselves (``tenant_id(router)``): a Powertools ``Router`` shares the
resolver's current event once it is included in the app.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from audience.errors import BadRequest, DomainError, TooLarge, ValidationFailed
from pydantic import ValidationError

from functions.api import errors

MAX_BODY_BYTES = 1_048_576
"""Largest request body the API reads (1 MiB); API Gateway itself stops at 10 MB."""


class Unauthorized(DomainError):
    """No tenant in the authorizer context: the request did not come through the authorizer."""

    code = "unauthorized"
    status = 401


class Forbidden(DomainError):
    """The key's scopes do not allow this method."""

    code = "forbidden"
    status = 403


def authorizer_context(event: Mapping[str, Any]) -> dict[str, Any]:
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    return context if isinstance(context, dict) else {}


def tenant_of(event: Mapping[str, Any]) -> str:
    """The caller's tenant, from ``requestContext.authorizer.tenant_id`` and nowhere else."""
    tenant = authorizer_context(event).get("tenant_id")
    if not isinstance(tenant, str) or not tenant:
        raise Unauthorized("missing or invalid API key")
    return tenant


def tenant_id(resolver: Any) -> str:
    """``tenant_of`` the resolver's (or router's) current event."""
    return tenant_of(resolver.current_event)


def scopes_of(event: Mapping[str, Any]) -> frozenset[str]:
    raw = authorizer_context(event).get("scopes") or ""
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return frozenset(s.strip() for s in items if s and s.strip())


def body_bytes(event: Mapping[str, Any]) -> int:
    body = event.get("body") or ""
    size = len(body.encode("utf-8", "surrogatepass")) if isinstance(body, str) else len(body)
    if event.get("isBase64Encoded"):
        size = size * 3 // 4
    return size


FORM = "application/x-www-form-urlencoded"


def body_as_json(event: dict[str, Any]) -> None:
    """The API speaks JSON only; ``curl -d '{...}'`` labels a JSON body as a form. Powertools would
    parse that as a form (and report the whole JSON text as an unknown field): read it as JSON,
    so it either works or answers 400 for malformed JSON. Other non-JSON types stay 415."""
    for name in ("headers", "multiValueHeaders"):
        for key, value in list((event.get(name) or {}).items()):
            if key.lower() != "content-type":
                continue
            values = value if isinstance(value, list) else [value]
            if any(str(v).lower().startswith(FORM) for v in values):
                event[name][key] = ["application/json"] if isinstance(value, list) else "application/json"


def check_body_size(event: Mapping[str, Any]) -> None:
    """413 for a body over ``MAX_BODY_BYTES``."""
    if body_bytes(event) > MAX_BODY_BYTES:
        raise TooLarge(
            f"the request body is larger than {MAX_BODY_BYTES} bytes",
            [{"path": "/", "message": f"at most {MAX_BODY_BYTES} bytes"}],
        )


def _lone_surrogate_path(value: Any, path: str = "") -> str | None:
    """The JSON Pointer of the first string (or key) holding a lone UTF-16 surrogate, if any."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "/"
        return None
    if isinstance(value, dict):
        for key, child in value.items():
            pointer = path + "/" + str(key).replace("~", "~0").replace("/", "~1")
            found = _lone_surrogate_path(key, pointer) or _lone_surrogate_path(child, pointer)
            if found:
                return found
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found = _lone_surrogate_path(child, f"{path}/{index}")
            if found:
                return found
    return None


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` that also refuses text no store can keep: a lone surrogate (``"\\ud800"``) is
    valid JSON syntax but not Unicode, so it is a 422 naming where it is (DynamoDB would fail later)."""
    value = json.loads(text)
    where = _lone_surrogate_path(value)
    if where:
        raise ValidationFailed(
            "the body holds text that is not valid Unicode", [{"path": where, "message": "lone surrogate"}]
        )
    return value


def json_body(resolver: Any) -> Any:
    """The parsed JSON body (None when empty); 400 when it is not JSON, 413 when too large."""
    check_body_size(resolver.current_event)
    raw = resolver.current_event.decoded_body
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return parse_json(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(
            "the request body is not valid JSON", [{"path": "/", "message": "not valid JSON"}]
        ) from exc


def json_object(resolver: Any) -> dict[str, Any]:
    body = json_body(resolver)
    if not isinstance(body, dict):
        raise ValidationFailed(
            "the request body must be a JSON object", [{"path": "/", "message": "an object"}]
        )
    return body


def pydantic_details(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[dict[str, str]]:
    """A pydantic error on the body (or on the part at ``prefix``) as SPEC details."""
    return errors.pydantic_details(exc.errors(include_url=False), ("body", *prefix))


def if_match(resolver: Any) -> int | None:
    """The ``If-Match`` version (``3``, ``"3"`` or ``W/"3"``), or None when absent; 400 when unreadable."""
    raw = resolver.current_event.headers.get("if-match") if resolver.current_event.headers else None
    if raw is None or not raw.strip():
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 18:
        raise BadRequest(
            "If-Match must be a segment version (a non-negative integer)",
            [{"path": "If-Match", "message": "a version number such as 3"}],
        )
    return int(text)
