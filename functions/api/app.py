"""The REST API: one Powertools resolver, one Router per resource, SPEC's error shape everywhere.

Routers are loaded by the first request for their resource (``ROUTERS_BY_RESOURCE``), not at
import: each brings its use cases, request models and the storage layer (pynamodb, botocore), and
importing them all made most of the cold start. The OpenAPI document loads them all.

Checked for every request before routing or validation (``rejection``; Powertools runs its request
validation before any middleware, so this happens in the handler): the tenant must be in the
authorizer context (401), the key's scopes must allow the method (403: read keys may only GET - the
authorizer already enforces this, this is defense in depth), the body must be under
``MAX_BODY_BYTES`` (413) and not multipart (415). ``/openapi.json`` and ``/docs`` are public, and so
are CORS preflights (``OPTIONS``, answered by Powertools for the console's origin, ``CORS_ALLOW_ORIGIN``).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import sys
import types
from urllib.parse import unquote

if __name__ == "app" and "functions.api" not in sys.modules:  # pragma: no cover - Lambda only
    # In Lambda this directory is the code root (CodeUri: functions/api/), so the package the
    # modules below import as ``functions.api`` is this directory; register it under that name.
    _root = types.ModuleType("functions")
    _root.__path__ = []
    _package = types.ModuleType("functions.api")
    _package.__path__ = [os.path.dirname(os.path.abspath(__file__))]
    sys.modules.update({"functions": _root, "functions.api": _package})

from http import HTTPStatus  # noqa: E402
from typing import Any  # noqa: E402

from audience.errors import DomainError  # noqa: E402
from audience.tracing import traced  # noqa: E402
from aws_lambda_powertools import Logger, Metrics  # noqa: E402
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response  # noqa: E402
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError  # noqa: E402
from aws_lambda_powertools.event_handler.openapi.exceptions import (  # noqa: E402
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths  # noqa: E402
from aws_lambda_powertools.metrics import MetricUnit  # noqa: E402
from aws_lambda_powertools.utilities.typing import LambdaContext  # noqa: E402

from functions.api import errors  # noqa: E402
from functions.api.routers.request_context import (  # noqa: E402
    ApiGatewayEvent,
    Forbidden,
    array_for_an_object,
    body_as_json,
    check_body_size,
    check_content_type,
    parse_json,
    scopes_of,
    tenant_of,
)

logger = Logger()
metrics = Metrics()

PUBLIC_PATHS = frozenset({"/openapi.json", "/docs"})

# The routers (modules of functions/api/routers/), in the order their routes are registered: one
# Router per resource; jobs = exports, mass update and score reset; trust = explain, preview-change,
# membership history. Matching (static routes first, then dynamic ones in this order) and the
# OpenAPI document follow this order, however late a router is loaded.
ROUTERS = (
    "segments",
    "contacts",
    "fields",
    "categories",
    "campaigns",
    "settings",
    "events",
    "imports",
    "jobs",
    "tenant",
    "evaluation",
    "trust",
)
# The routers with a route under each first path segment. A request loads only these, with their
# use cases, request models and the storage layer (pynamodb, botocore), not every route of the API:
# importing them all was most of the cold start. ``tests/unit/api/test_lazy_routers.py`` checks this
# table against the routes the routers register.
ROUTERS_BY_RESOURCE: dict[str, tuple[str, ...]] = {
    "segments": ("segments", "jobs", "evaluation", "trust"),
    "contacts": ("contacts", "trust"),
    "fields": ("fields",),
    "categories": ("categories",),
    "campaigns": ("campaigns",),
    "settings": ("settings", "events"),
    "events": ("events",),
    "imports": ("imports",),
    "exports": ("jobs",),
    "jobs": ("jobs",),
    "tenant": ("tenant",),
}
# Powertools answers a CORS preflight with the methods of every route registered so far; a
# preflight loads no router, so the API's methods are registered up front (checked by the same test).
CORS_METHODS = frozenset({"DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"})


def openapi_settings() -> dict[str, Any]:
    """The document's title and security scheme. Powertools' OpenAPI models (~100 ms of pydantic
    model building) are imported here, by the first ``/openapi.json`` or ``/docs``, not by every
    cold start: routing and request validation do not use them."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    return {
        "title": "Segments API",
        "version": "1.0.0",
        "description": "Audience segmentation: segments, contacts, imports, exports. "
        "Authenticate with the X-Api-Key header.",
        "security_schemes": {"apiKey": APIKey(name="X-Api-Key", in_=APIKeyIn.header)},
        "security": [{"apiKey": []}],
    }


class Resolver(APIGatewayRestResolver):
    """API Gateway REST events keep ``path`` percent-encoded (only ``pathParameters`` are decoded),
    and Powertools routes on ``path``: decode each route parameter after matching, so
    ``/contacts/ada%40example.com`` names the contact ``ada@example.com``, as a body would.

    Routers are included by the first request for their resource (``include_routers``), in an
    order that keeps every route where an import-time include would have put it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._loaded_routers: set[str] = set()
        self._router_rank: dict[int, int] = {}  # id(route) -> its router's place in ROUTERS
        if self._cors:
            self._cors_methods |= CORS_METHODS

    def _convert_matches_into_route_keys(self, match: re.Match) -> dict[str, str]:
        return {name: unquote(value) for name, value in match.groupdict().items()}

    def include_routers(self, names: tuple[str, ...] | list[str]) -> None:
        """Import and include the named routers not loaded yet, then put every route back in
        ``ROUTERS`` order (the app's own routes last), as if all had been included at import."""
        rank = {name: place for place, name in enumerate(ROUTERS)}
        loaded = False
        for name in names:
            if name in self._loaded_routers:
                continue
            known = {id(route) for route in self._static_routes + self._dynamic_routes}
            self.include_router(importlib.import_module(f"functions.api.routers.{name}").router)
            self._loaded_routers.add(name)
            for route in self._static_routes + self._dynamic_routes:
                if id(route) not in known:
                    self._router_rank[id(route)] = rank[name]
            loaded = True
        if loaded:
            self._static_routes.sort(key=self._place)  # stable: a router's own routes keep their order
            self._dynamic_routes.sort(key=self._place)

    def _place(self, route: Any) -> int:
        return self._router_rank.get(id(route), len(ROUTERS))

    def include_every_router(self) -> None:
        """Every route of the API: for the OpenAPI document and whatever lists the routes."""
        self.include_routers(ROUTERS)

    def _resolve(self) -> Any:
        """Load the routers that may serve this path before Powertools matches it (a preflight,
        answered without a route, loads none)."""
        if self.current_event.http_method.upper() != "OPTIONS":
            first = self._remove_prefix(self.current_event.path).split("/", 2)
            self.include_routers(ROUTERS_BY_RESOURCE.get(first[1] if len(first) > 1 else "", ()))
        return super()._resolve()

    def get_openapi_schema(self, **settings: Any) -> Any:
        self.include_every_router()
        return super().get_openapi_schema(**settings)

    def get_openapi_json_schema(self, **settings: Any) -> str:
        """Powertools' document finished by ``openapi_document.finish`` (error responses, links):
        what ``/openapi.json`` serves and ``make schemas`` writes."""
        from functions.api.openapi_document import finish  # the rule schema: for the document only

        generated = json.loads(super().get_openapi_json_schema(**settings))
        return json.dumps(finish(generated), ensure_ascii=False)

    def _call_route(self, route: Any, route_arguments: dict[str, str]) -> Any:
        """Powertools validates a JSON array sent to a route whose body is an object as the array's
        first item; such a body is refused here (422 at ``/``), for every route alike."""
        refused = array_for_an_object(route, self.current_event)
        if refused is not None:
            return self._response_builder_class(
                response=errors.handle_domain_error(refused), serializer=self._serializer, route=route
            )
        return super()._call_route(route, route_arguments)

    def _to_proxy_event(self, event: dict) -> ApiGatewayEvent:
        """Every route reads its body through ``ApiGatewayEvent`` (400, never 500, for bytes that
        are not UTF-8 JSON text), whatever route it is and however it reads the body."""
        return ApiGatewayEvent(event, self._json_body_deserializer)


def console_cors() -> CORSConfig | None:
    """CORS for the web console's origin (its CloudFront domain when deployed); none when unset,
    as on the local stack, which serves the console from the API's own origin."""
    origin = os.environ.get("CORS_ALLOW_ORIGIN")
    if not origin:
        return None
    return CORSConfig(
        allow_origin=origin,
        allow_headers=["X-Api-Key", "If-Match", "Content-Type"],
        expose_headers=["ETag"],
        max_age=600,
    )


app = Resolver(enable_validation=True, json_body_deserializer=parse_json, cors=console_cors())


def rejection(event: dict[str, Any]) -> DomainError | None:
    """Why the request is refused before routing: no tenant (401), scope (403), body size (413)."""
    method = (event.get("httpMethod") or "").upper()
    if method == "OPTIONS" or (event.get("path") in PUBLIC_PATHS and method == "GET"):
        return None
    from audience.tenants import may_call  # the storage layer: loaded by the first request that needs it

    try:
        tenant = tenant_of(event)
        if not may_call(scopes_of(event), event.get("httpMethod") or ""):
            raise Forbidden("this API key may only read (GET)")
        logger.append_keys(tenant_id=tenant)
        check_body_size(event)
        check_content_type(event)
    except DomainError as refused:
        return refused
    return None


@functools.cache
def openapi_json() -> str:
    """Built once per container: the routes cannot change while it runs."""
    return app.get_openapi_json_schema(**openapi_settings())


@app.get("/openapi.json", include_in_schema=False)
def openapi_document():
    return Response(status_code=200, content_type="application/json", body=openapi_json())


@app.get("/docs", include_in_schema=False)
def swagger_ui():
    """Swagger UI over the same finished document as ``/openapi.json``."""
    from functions.api.swagger_ui import swagger_page  # Powertools' OpenAPI models: on the first /docs

    query = app.current_event.query_string_parameters or {}
    return swagger_page(openapi_json(), as_json=query.get("format") == "json")


# ---- errors: every answer in SPEC's shape ------------------------------------------------------

app.exception_handler(RequestValidationError)(errors.handle_request_validation)
app.exception_handler(RequestUnsupportedContentType)(errors.handle_unsupported_content_type)
app.exception_handler(DomainError)(errors.handle_domain_error)
app.exception_handler(ServiceError)(errors.handle_service_error)


@app.not_found
def not_found(_: NotFoundError) -> Response:
    path = app.context.get("_path") or app.current_event.path
    method = app.current_event.http_method.upper()
    # Powertools has no 405: find the methods registered for this path ourselves. A literal path
    # (/segments/bulk) names its own resource, not a value of /segments/{segment_id}.
    static = [r for r in app._static_routes if r.rule.match(path)]  # noqa: SLF001
    routes = static or [r for r in app._dynamic_routes if r.rule.match(path)]  # noqa: SLF001
    allowed = [r.method for r in routes if r.method != method]
    return errors.route_not_found(path, method, allowed)


@app.exception_handler(Exception)
def unexpected(exc: Exception) -> Response:
    metrics.add_metric(name="UnhandledErrors", unit=MetricUnit.Count, value=1)
    return errors.handle_unexpected(exc)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refused = rejection(event)
    body_as_json(event)
    response = errors.gateway_response(refused) if refused else app.resolve(event, context)
    status = int(response.get("statusCode", HTTPStatus.INTERNAL_SERVER_ERROR))
    metrics.add_metric(name=f"Http{status // 100}xx", unit=MetricUnit.Count, value=1)
    return response
