"""The local API Gateway: HTTP requests -> REST (v1) proxy events -> authorizer -> api function.

It follows what the template declares for the API: the routes of the api function's `Api` events
(exact paths before `{proxy+}`), which of them skip the authorizer (`Auth: {Authorizer: NONE}`),
the REQUEST authorizer's identity header, and the gateway responses for 401/403. An authorizer that
raises `Unauthorized` gives 401; a policy that does not allow the method ARN gives 403, as API
Gateway does. Local-only routes live under `/_local/` (see infra.localstack).

Request bodies reach the function as API Gateway hands them over: a body whose `Content-Type`
(`application/json` when absent) matches one of the API's `BinaryMediaTypes` arrives base64 with
`isBase64Encoded: true`, byte for byte; any other body is read as UTF-8 text (API Gateway's text
mode, where undecodable bytes become U+FFFD); no body is `null`.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from infra import local_console
from infra.local_functions import LocalFunction
from infra.template_resources import LocalResources

log = logging.getLogger("localstack")

LOCAL_API_ID = "local"
DEFAULT_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Route:
    path: str  # template path: "/", "/docs", "/{proxy+}"
    method: str  # "ANY" or an HTTP method
    authorized: bool

    def matches(self, path: str, method: str) -> dict[str, str] | None:
        """Path parameters when this route serves `method path`, else None."""
        if self.method not in ("ANY", method):
            return None
        pattern = "^" + re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern) + "$"
        match = re.match(pattern, path)
        return match.groupdict() if match else None

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers literal paths over parameters, greedy `{proxy+}` last, and a
        method of its own (OPTIONS for CORS preflights) over ANY on the same path."""
        return ("+}" in self.path, -len(self.path), self.method == "ANY")


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    body: str


class ApiGateway:
    """Builds events, runs the authorizer and the api function, shapes the response."""

    def __init__(
        self, resources: LocalResources, functions: dict[str, LocalFunction], api_logical_id: str = "Api"
    ):
        self.resources = resources
        api = resources.template.properties(api_logical_id)
        self.stage = str(resources.resolve(api.get("StageName", "v1")))
        auth = api.get("Auth") or {}
        authorizer_name = auth.get("DefaultAuthorizer")
        authorizer_props = (auth.get("Authorizers") or {}).get(authorizer_name, {}) if authorizer_name else {}
        self.authorizer: LocalFunction | None = None
        if authorizer_props:
            arn = authorizer_props["FunctionArn"]
            authorizer_id = arn["Fn::GetAtt"][0] if isinstance(arn, dict) else str(arn)
            self.authorizer = functions[authorizer_id]
        self.identity_headers = [
            h.lower() for h in (authorizer_props.get("Identity") or {}).get("Headers", [])
        ]
        self.gateway_responses = _gateway_responses(api.get("GatewayResponses") or {})
        # SAM writes "/" in a media type as "~1" (the API's PATCH path syntax).
        self.binary_media_types = [
            str(t).replace("~1", "/").lower() for t in resources.resolve(api.get("BinaryMediaTypes") or [])
        ]
        self.routes: list[tuple[Route, LocalFunction]] = []
        for function in functions.values():
            for event in function.spec.events_of_type("Api"):
                props = event.properties
                rest_api = props.get("RestApiId")
                if rest_api is not None and rest_api != {"Ref": api_logical_id}:
                    continue
                auth_override = (props.get("Auth") or {}).get("Authorizer")
                authorized = self.authorizer is not None and auth_override != "NONE"
                route = Route(
                    path=str(props["Path"]), method=str(props["Method"]).upper(), authorized=authorized
                )
                self.routes.append((route, function))
        self.routes.sort(key=lambda pair: pair[0].specificity)

    # -- request handling
    def _route(self, path: str, method: str) -> tuple[Route, LocalFunction, dict[str, str]] | None:
        for route, function in self.routes:
            params = route.matches(path, method)
            if params is not None:
                return route, function, params
        return None

    def handle(
        self,
        method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        host: str,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        split = urlsplit(raw_path)
        path = split.path or "/"
        found = self._route(path, method)
        if found is None:
            return self._gateway_error("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
        route, function, params = found
        query = parse_qsl(split.query, keep_blank_values=True)
        request_context = self._request_context(route, method, path, headers, source_ip, host)
        if route.authorized:
            outcome = self._authorize(route, method, path, headers, query, params, request_context)
            if isinstance(outcome, tuple):
                return outcome
            request_context["authorizer"] = outcome
        event = self._proxy_event(route, method, path, headers, query, params, body, request_context)
        started = time.monotonic()
        try:
            result = function.invoke(event)
        except Exception:
            log.exception("%s raised on %s %s", function.name, method, path)
            return 502, [("Content-Type", "application/json")], b'{"message": "Internal server error"}'
        finally:
            log.debug("%s %s took %.0f ms", method, path, (time.monotonic() - started) * 1000)
        return _proxy_response(result)

    def _authorize(
        self,
        route: Route,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
        params: dict[str, str],
        request_context: dict[str, Any],
    ) -> dict[str, Any] | tuple[int, list[tuple[str, str]], bytes]:
        assert self.authorizer is not None
        method_arn = (
            f"arn:aws:execute-api:{self.resources.region}:{self.resources.account_id}:"
            f"{LOCAL_API_ID}/{self.stage}/{method}{path}"
        )
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            **_header_fields(headers),
            **_query_fields(query),
            "pathParameters": params or {},
            "stageVariables": {},
            "requestContext": request_context,
        }
        try:
            answer = self.authorizer.invoke(event)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return self._gateway_error("UNAUTHORIZED", 401, "Unauthorized")
            log.exception("authorizer failed")
            return self._gateway_error("AUTHORIZER_FAILURE", 500, None)
        if not isinstance(answer, dict) or "policyDocument" not in answer:
            log.error("authorizer answered without a policyDocument: %r", answer)
            return self._gateway_error("AUTHORIZER_CONFIGURATION_ERROR", 500, None)
        if not _policy_allows(answer["policyDocument"], method_arn):
            return self._gateway_error("ACCESS_DENIED", 403, "User is not authorized to access this resource")
        context = answer.get("context") or {}
        bad = [key for key, value in context.items() if isinstance(value, dict | list)]
        if bad:
            log.error("authorizer context values must be strings, numbers or booleans: %s", bad)
            return self._gateway_error("AUTHORIZER_CONFIGURATION_ERROR", 500, None)
        authorizer = {key: _context_value(value) for key, value in context.items()}
        authorizer["principalId"] = str(answer.get("principalId", ""))
        authorizer["integrationLatency"] = 0
        return authorizer

    def _request_context(
        self, route: Route, method: str, path: str, headers: list[tuple[str, str]], source_ip: str, host: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        user_agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
        return {
            "resourceId": LOCAL_API_ID,
            "resourcePath": route.path,
            "httpMethod": method,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": path,  # no stage prefix: like a custom domain (Powertools then serves from "/")
            "accountId": self.resources.account_id,
            "protocol": "HTTP/1.1",
            "stage": self.stage,
            "domainPrefix": host.split(":")[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": host,
            "apiId": LOCAL_API_ID,
        }

    def _proxy_event(
        self,
        route: Route,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
        params: dict[str, str],
        body: bytes,
        request_context: dict[str, Any],
    ) -> dict[str, Any]:
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        text_body, is_base64 = self.integration_body(body, content_type)
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            **_header_fields(headers),
            **_query_fields(query, empty_as_none=True),
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": text_body,
            "isBase64Encoded": is_base64,
        }

    def integration_body(self, body: bytes, content_type: str) -> tuple[str | None, bool]:
        """The event's ``body`` and ``isBase64Encoded`` for these request bytes (see module doc)."""
        if not body:
            return None, False
        media_type = (content_type.split(";")[0].strip() or DEFAULT_CONTENT_TYPE).lower()
        if any(fnmatch.fnmatchcase(media_type, pattern) for pattern in self.binary_media_types):
            return base64.b64encode(body).decode("ascii"), True
        return body.decode("utf-8", errors="replace"), False

    def _gateway_error(self, kind: str, default_status: int, message: str | None):
        response = self.gateway_responses.get(kind)
        if response is None and kind in ("UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN"):
            response = self.gateway_responses.get("DEFAULT_4XX")
        if response is None and kind.startswith("AUTHORIZER"):
            response = self.gateway_responses.get("DEFAULT_5XX")
        if response is not None:
            status = response.status if kind in self.gateway_responses else default_status
            return status, [("Content-Type", "application/json")], response.body.encode()
        return (
            default_status,
            [("Content-Type", "application/json")],
            json.dumps({"message": message}).encode(),
        )


def _gateway_responses(config: dict[str, Any]) -> dict[str, GatewayResponse]:
    out = {}
    for kind, spec in config.items():
        templates = spec.get("ResponseTemplates") or {}
        body = templates.get("application/json") or next(iter(templates.values()), '{"message": null}')
        out[kind] = GatewayResponse(status=int(spec.get("StatusCode", 400)), body=body)
    return out


def _header_fields(headers: list[tuple[str, str]]) -> dict[str, Any]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return {"headers": single, "multiValueHeaders": multi}


def _query_fields(query: list[tuple[str, str]], empty_as_none: bool = False) -> dict[str, Any]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in query:
        single[name] = value
        multi.setdefault(name, []).append(value)
    if empty_as_none and not query:
        return {"queryStringParameters": None, "multiValueQueryStringParameters": None}
    return {"queryStringParameters": single, "multiValueQueryStringParameters": multi}


def _context_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM evaluation for execute-api:Invoke: an explicit Deny wins, else some Allow must match."""
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if not any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def _proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda proxy integration answer -> status, headers, body (502 if malformed, like API Gateway)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        log.error("api function returned a malformed proxy response: %r", result)
        return 502, [("Content-Type", "application/json")], b'{"message": "Internal server error"}'
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    for name, values in multi.items():
        headers.extend((name, str(v)) for v in values)
    for name, value in (result.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return int(result["statusCode"]), headers, raw


LocalRoute = Callable[[str, dict[str, Any] | None], tuple[int, Any]]


class FrontDoor(ThreadingHTTPServer):
    """HTTP server: `/_local/*` to local handlers, `/` and `/console/` to the web console's build,
    everything else through the ApiGateway."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], gateway: ApiGateway, local_routes: dict[tuple[str, str], LocalRoute]
    ) -> None:
        self.gateway = gateway
        self.local_routes = local_routes
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: FrontDoor
    protocol_version = "HTTP/1.1"

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a request line over 64 KiB, a malformed one) in the
        service's JSON error shape instead of an HTML page."""
        status = HTTPStatus(code)
        payload = _error(_ERROR_CODES.get(code, "bad_request"), message or status.phrase)
        self.close_connection = True
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(payload)

    def _serve(self) -> None:
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(self.path) > MAX_URL_CHARS:  # API Gateway refuses such a URL before any function runs
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, f"the URL is over {MAX_URL_CHARS:,} characters")
            return
        path = urlsplit(self.path).path
        local = self.server.local_routes.get((self.command, path))
        if local is not None or path.startswith("/_local/"):
            status, headers, payload = self._local(local, body)
        elif local_console.serves(self.command, path):
            status, headers, payload = local_console.answer(path)
        else:
            host = (
                self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
            )
            status, headers, payload = self.server.gateway.handle(
                self.command, self.path, list(self.headers.items()), body, self.client_address[0], host
            )
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        log.info(
            "%s %s -> %d (%.0f ms)", self.command, self.path, status, (time.monotonic() - started) * 1000
        )

    def _local(self, route: LocalRoute | None, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        json_headers = [("Content-Type", "application/json")]
        if route is None:
            return 404, json_headers, _error("not_found", "no such local endpoint")
        try:
            payload = json.loads(body) if body else None
        except json.JSONDecodeError as exc:
            return 400, json_headers, _error("malformed_json", f"body is not JSON: {exc}")
        try:
            status, answer = route(self.command, payload)
        except Exception as exc:
            log.exception("local endpoint failed")
            return 500, json_headers, _error("local_error", str(exc))
        return status, json_headers, json.dumps(answer, default=str).encode()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, QUERY, ...) goes the same way - the function answers 405 with
        ``Allow`` - instead of http.server's own HTML 501."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # requests are logged once, with status and timing, in _serve


MAX_URL_CHARS = 8192  # API Gateway's limit on a request's URL (414 beyond it)
_ERROR_CODES = {414: "uri_too_long", 501: "not_implemented", 505: "bad_request"}


def _error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()
