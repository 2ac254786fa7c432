"""What every route reads from the request besides its declared parameters: the tenant (only from
the authorizer context), the caller's scopes, the raw JSON body and ``If-Match``.

Routers call these with themselves (``tenant_id(router)``): a Powertools ``Router`` shares the
resolver's current event once it is included in the app.

The body is read in one place for every route: ``ApiGatewayEvent.decoded_body`` (the resolver's
event class), which both Powertools' body validation and ``json_body`` go through. Bytes that are
not base64 (when ``isBase64Encoded``) or not UTF-8 are ``400 malformed_json`` there, so no route
can meet a ``UnicodeDecodeError``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from audience.errors import BadRequest, DomainError, TooLarge, ValidationFailed
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
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


class UnsupportedMediaType(DomainError):
    """A body sent as something the API does not read (it speaks JSON only)."""

    code = "unsupported_media_type"
    status = 415


class MalformedBody(BadRequest):
    """The body is not JSON text: not UTF-8, not valid base64 where flagged so, or not JSON syntax."""

    code = "malformed_json"

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"path": "/", "message": "not valid JSON"}])


def body_text(body: str | None, is_base64_encoded: bool) -> str | None:
    """The request body as text, exactly as sent: API Gateway hands binary media types over as
    base64 (``isBase64Encoded``); those bytes must be UTF-8, as JSON text is (RFC 8259 section 8.1)."""
    if not body or not is_base64_encoded:
        return body
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedBody("the request body is not valid base64 although isBase64Encoded is set") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"the request body is not UTF-8 text (byte {exc.start})") from exc


class ApiGatewayEvent(APIGatewayProxyEvent):
    """The REST proxy event whose body decoding refuses non-UTF-8 bytes with a 400 (Powertools'
    own ``decoded_body`` raises ``UnicodeDecodeError``, a 500)."""

    @cached_property
    def decoded_body(self) -> str | None:
        return body_text(self.body, bool(self.is_base64_encoded))


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


def check_content_type(event: Mapping[str, Any]) -> None:
    """415 for a multipart body: Powertools would parse it as a form (and fail with a 500 on a
    missing boundary); every other non-JSON type is refused by its body validation already."""
    if not event.get("body"):
        return
    headers = event.get("headers") or {}
    content_type = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
    if content_type.strip().lower().startswith("multipart/"):
        raise UnsupportedMediaType(
            "send the body as application/json", [{"path": "Content-Type", "message": "must be application/json"}]
        )


def check_body_size(event: Mapping[str, Any]) -> None:
    """413 for a body over ``MAX_BODY_BYTES``."""
    if body_bytes(event) > MAX_BODY_BYTES:
        raise TooLarge(
            f"the request body is larger than {MAX_BODY_BYTES} bytes",
            [{"path": "/", "message": f"at most {MAX_BODY_BYTES} bytes"}],
        )


MAX_JSON_DEPTH = 32
"""Deepest nesting a body may have (DynamoDB's own limit for a document; rules need about 14)."""

_NUMBER_DIGITS = 38
_NUMBER_MAX = 10**126
_NUMBER_MIN = 1e-130
"""DynamoDB numbers: at most 38 significant digits, magnitude in [1e-130, 1e126) or zero."""


class _HugeInt(int):
    """An integer literal too long to convert (Python refuses beyond 4300 digits): kept as a marker
    so the walk below can name where it is."""


def _parse_int(text: str) -> int:
    return _HugeInt(0) if len(text) > 130 else int(text)


def _refuse_constant(name: str) -> Any:
    raise MalformedBody(f"the request body is not valid JSON: {name} is not a JSON number")


def _pointer(path: str, token: Any) -> str:
    return f"{path}/{str(token).replace('~', '~0').replace('/', '~1')}"


def _number_problem(value: int | float) -> str | None:
    if isinstance(value, bool):
        return None
    # A float is compared as a float: 1e126 parses to just under 10**126, but it is stored as its
    # text "1e+126", which DynamoDB refuses (make fuzz sent -1e+126 to mass-update's set).
    limit = float(_NUMBER_MAX) if isinstance(value, float) else _NUMBER_MAX
    if isinstance(value, _HugeInt) or abs(value) >= limit:  # infinity from 1e999 too
        return "number out of range"
    if isinstance(value, float):
        return "number out of range" if value and abs(value) < _NUMBER_MIN else None
    if len(str(abs(value)).rstrip("0")) > _NUMBER_DIGITS:
        return f"more than {_NUMBER_DIGITS} significant digits"
    return None


def _unstorable(value: Any) -> tuple[str, str] | None:
    """Where the parsed body holds something no store can keep, and what: a lone UTF-16 surrogate
    (valid JSON escape, not Unicode), nesting deeper than ``MAX_JSON_DEPTH``, or a number DynamoDB
    cannot hold. Iterative, so no body can exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return path or "/", "lone surrogate"
        elif isinstance(item, int | float):
            problem = _number_problem(item)
            if problem:
                return path or "/", problem
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                return path or "/", f"nested deeper than {MAX_JSON_DEPTH} levels"
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            children = []
            for key, child in pairs:
                pointer = _pointer(path, key)
                if isinstance(key, str):
                    children.append((key, pointer, depth + 1))
                children.append((child, pointer, depth + 1))
            stack.extend(reversed(children))
    return None


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` for request bodies: 400 ``malformed_json`` for anything that is not JSON text
    (including ``NaN``/``Infinity`` and nesting too deep to parse), 422 at its JSON Pointer for JSON
    no store can keep (``_unstorable``). Used by Powertools' body validation and ``json_body`` alike."""
    try:
        value = json.loads(text, parse_int=_parse_int, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"the request body is not valid JSON at character {exc.pos}") from exc
    except RecursionError as exc:
        raise MalformedBody(f"the request body nests deeper than {MAX_JSON_DEPTH} levels") from exc
    except UnicodeDecodeError as exc:  # bytes given directly
        raise MalformedBody(f"the request body is not UTF-8 text (byte {exc.start})") from exc
    found = _unstorable(value)
    if found:
        path, problem = found
        raise ValidationFailed("the body holds a value the service cannot store", [{"path": path, "message": problem}])
    return value


def array_for_an_object(route: Any, event: Any) -> DomainError | None:
    """422 when the body is a JSON array but no body parameter of ``route`` admits one."""
    from aws_lambda_powertools.event_handler.middlewares.openapi_validation import _is_or_contains_sequence

    params = getattr(getattr(route, "dependant", None), "body_params", None)
    if not params or any(_is_or_contains_sequence(p.field_info.annotation) for p in params):
        return None
    try:
        body = event.json_body
    except Exception:  # noqa: BLE001 - not JSON at all: the body validation answers that
        return None
    if not isinstance(body, list):
        return None
    return ValidationFailed("the request body must be a JSON object", [{"path": "/", "message": "an object"}])


def json_body(resolver: Any) -> Any:
    """The parsed JSON body (None when empty); 400 when it is not JSON, 413 when too large."""
    check_body_size(resolver.current_event)
    raw = resolver.current_event.decoded_body
    if raw is None or not raw.strip():
        return None
    return parse_json(raw)


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
