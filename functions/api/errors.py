"""Every error the API answers, in SPEC's one shape, and the handlers that produce it.

Body: ``{"error": {"code", "message", "details": [{"path", "message"}]}}``.

Path convention for ``details[].path`` (docs/api.md repeats it):

- request body: a JSON Pointer (RFC 6901) from the body's root, e.g. ``/rules/all/1/value``; the
  whole body is ``/``;
- query string parameter: ``?name`` (e.g. ``?limit``);
- path parameter: ``{name}`` (e.g. ``{segment_id}``);
- header: its name (e.g. ``If-Match``).

Caller mistakes become 4xx; only a genuine fault of ours is a 500, logged with its traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

from audience.errors import DomainError
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

logger = Logger(child=True)

# Entries pydantic adds to ``loc`` that name a validator or union member rather than a key.
_TAG = re.compile(r"^(function-(after|before|wrap|plain)|tagged-union|json-or-python|lax-or-strict|union)")
_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "none", "list", "dict", "is-instance", "model"})
_PARAM_SOURCES = {"query": "?{}", "path": "{{{}}}", "header": "{}", "cookie": "cookie:{}"}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Iterable[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message, "details": list(details)}},
        headers=headers,
    )


def _escape(token: Any) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def json_pointer(parts: Sequence[Any]) -> str:
    """``("rules", "all", 1, "value")`` -> ``/rules/all/1/value``; ``()`` -> ``/``."""
    return "/" + "/".join(_escape(p) for p in parts) if parts else "/"


def _is_tag(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part in _TYPE_TAGS or bool(_TAG.match(part)))


def loc_to_path(loc: Sequence[Any]) -> str:
    """A pydantic/Powertools ``loc`` in the documented path convention."""
    parts = [p for p in loc if not _is_tag(p)]
    if not parts:
        return "/"
    source, rest = parts[0], parts[1:]
    if source == "body":
        return json_pointer(rest)
    if source in _PARAM_SOURCES and rest:
        return _PARAM_SOURCES[source].format(rest[0]) + (json_pointer(rest[1:]) if len(rest) > 1 else "")
    return json_pointer(parts)


def pydantic_details(errors: Iterable[dict[str, Any]], prefix: Sequence[Any] = ("body",)) -> list[dict[str, str]]:
    """pydantic ``errors()`` as SPEC details; ``prefix`` says where the validated object sits."""
    details = []
    for error in errors:
        loc = tuple(prefix) + tuple(error.get("loc", ()))
        details.append({"path": loc_to_path(loc), "message": _message(error)})
    return details


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "missing":
        return "required"
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    message = str(error.get("msg") or error.get("type") or "invalid")
    return message.removeprefix("Value error, ")


def gateway_response(exc: DomainError) -> dict[str, Any]:
    """A refusal answered before the resolver runs, as the REST proxy integration response."""
    return {
        "statusCode": exc.status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "multiValueHeaders": {},
        "body": json.dumps({"error": exc.to_dict()}, ensure_ascii=False, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _union_branch(part: Any) -> bool:
    return isinstance(part, str) and (part[:1].isupper() or "[" in part)


def one_union_branch(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A body typed as a union (POST /events: an object or a bare array) fails in every branch;
    keep the errors of the branch the input's shape chose (the one that got past its root), with
    the branch's name taken out of ``loc``."""
    branches: dict[str, list[dict[str, Any]]] = {}
    rest = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if len(loc) >= 2 and loc[0] == "body" and _union_branch(loc[1]):
            branches.setdefault(loc[1], []).append(error)
        else:
            rest.append(error)
    if len(branches) < 2:
        return errors
    deep = [found for found in branches.values() if any(len(e["loc"]) > 2 for e in found)]
    chosen = deep[0] if deep else next(iter(branches.values()))
    return rest + [{**e, "loc": ("body", *tuple(e["loc"])[2:])} for e in chosen]


def handle_request_validation(exc: RequestValidationError) -> Response:
    errors = one_union_branch(list(exc.errors()))
    if any(e.get("type") == "json_invalid" for e in errors):
        position = next((e["loc"][1] for e in errors if len(e.get("loc", ())) > 1), None)
        where = f" at character {position}" if isinstance(position, int) else ""
        return error_response(
            HTTPStatus.BAD_REQUEST,
            "malformed_json",
            f"the request body is not valid JSON{where}",
            [{"path": "/", "message": "not valid JSON"}],
        )
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "validation_failed",
        "the request is invalid",
        [{"path": loc_to_path(e.get("loc", ())), "message": _message(e)} for e in errors],
    )


def handle_unsupported_content_type(exc: RequestUnsupportedContentType) -> Response:
    return error_response(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as application/json",
        [{"path": "Content-Type", "message": "must be application/json"}],
    )


def handle_domain_error(exc: DomainError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.details)


def handle_service_error(exc: ServiceError) -> Response:
    """Powertools' own HTTP errors (e.g. ``BadRequestError``), re-shaped."""
    status = HTTPStatus(exc.status_code)
    return error_response(status, status.phrase.lower().replace(" ", "_"), str(exc.msg))


def handle_unexpected(exc: Exception) -> Response:
    """A fault of ours: log it with its traceback, tell the caller nothing internal."""
    logger.exception("unhandled error")
    return error_response(
        HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "an internal error occurred; it has been logged"
    )


def route_not_found(path: str, method: str, allowed: Sequence[str]) -> Response:
    """404 for an unknown path; 405 (with ``Allow``) when the path exists for other methods."""
    if allowed:
        return error_response(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed",
            f"{method} is not allowed on {path}",
            headers={"Allow": ", ".join(sorted(set(allowed)))},
        )
    return error_response(HTTPStatus.NOT_FOUND, "not_found", f"no route {path}")
