"""Drive the api function the way API Gateway does: real REST proxy events, optionally through the
real authorizer (policy evaluated like API Gateway: no/unknown key 401, explicit Deny 403).

Fixtures:
    api_call(method, path, tenant=..., body=..., headers=..., query=..., raw_body=..., raw_bytes=...,
             api_key=..., scopes=...) -> ApiResponse(status, json, headers, text)
        ``raw_bytes``: the body as bytes, base64 with ``isBase64Encoded`` (a binary media type).
        ``tenant``: put this tenant in ``requestContext.authorizer`` (as the authorizer would);
        ``api_key``: run the authorizer with this X-Api-Key first and use its answer instead;
        neither: no authorizer context at all.
    tenants: a factory ``tenants(name) -> (tenant_id, api_key)`` creating real tenants and keys.
    shared_aws: module scope - one moto world (every template resource) for a whole test module.
        A module whose tests each work in their own fresh tenants can override ``aws`` with it
        (a module-scoped ``aws`` fixture returning ``shared_aws``) and skip re-creating every
        table per test; tenant isolation is exactly what makes sharing safe.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

ACCOUNT = "123456789012"
API_ID = "testapi"
STAGE = "v1"


@dataclass
class FakeLambdaContext:
    function_name: str = "api"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:api"
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None

    @property
    def error(self) -> dict[str, Any]:
        body = self.json
        assert isinstance(body, dict) and set(body) == {"error"}, body
        assert set(body["error"]) == {"code", "message", "details"}, body
        return body["error"]

    def paths(self) -> list[str]:
        return [d["path"] for d in self.error["details"]]


def method_arn(method: str, path: str) -> str:
    return f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}"


def policy_decision(policy: dict[str, Any], arn: str) -> bool:
    """IAM evaluation as API Gateway applies an authorizer policy: explicit Deny wins, then Allow."""
    allowed = False
    for statement in policy["policyDocument"]["Statement"]:
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase(arn, pattern.replace("?", "[?]")) for pattern in resources):
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


def _gateway_error(status: int, code: str, message: str) -> ApiResponse:
    body = json.dumps({"error": {"code": code, "message": message, "details": []}})
    return ApiResponse(status=status, headers={"Content-Type": "application/json"}, text=body)


def build_event(
    method: str,
    path: str,
    *,
    body: str | None,
    headers: dict[str, str],
    query: dict[str, Any] | None,
    authorizer: dict[str, Any] | None,
    is_base64: bool = False,
) -> dict[str, Any]:
    multi_query = None
    if query:
        multi_query = {k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in query.items()}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": uuid.uuid4().hex,
            "identity": {"sourceIp": "127.0.0.1"},
            **({"authorizer": authorizer} if authorizer is not None else {}),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def authorize(api_key: str | None, method: str, path: str, headers: dict[str, str]) -> ApiResponse | dict:
    """Run the real authorizer; an ApiResponse when API Gateway would answer itself, else the context."""
    from functions.authorizer.app import lambda_handler as authorizer

    event = {
        "type": "REQUEST",
        "methodArn": method_arn(method, path),
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {**headers, **({"X-Api-Key": api_key} if api_key is not None else {})},
        "queryStringParameters": {},
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": {},
        "requestContext": {"accountId": ACCOUNT, "apiId": API_ID, "stage": STAGE, "httpMethod": method},
    }
    try:
        policy = authorizer(event, FakeLambdaContext(function_name="authorizer"))
    except Exception as exc:  # API Gateway: "Unauthorized" -> 401, anything else -> 500
        if str(exc) == "Unauthorized":
            return _gateway_error(401, "unauthorized", "Missing or invalid API key.")
        raise
    if not policy_decision(policy, method_arn(method, path)):
        return _gateway_error(403, "forbidden", "The API key may not do this.")
    return {**policy.get("context", {}), "principalId": policy["principalId"]}


@pytest.fixture(scope="module")
def shared_aws():
    from audience.settings import get_settings

    from infra.template_resources import create_resources
    from tests.conftest import PLANNED_RESOURCES

    with mock_aws():
        get_settings.cache_clear()
        resources = create_resources(boto3.Session(region_name=PLANNED_RESOURCES.region))
        os.environ.update(resources.env())
        yield resources
    get_settings.cache_clear()


@pytest.fixture
def api_call(aws):
    from functions.api.app import lambda_handler

    def call(
        method: str,
        path: str,
        *,
        tenant: str | None = None,
        body: Any = None,
        raw_body: str | None = None,
        raw_bytes: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        api_key: str | None = None,
        scopes: str = "read,write",
    ) -> ApiResponse:
        method = method.upper()
        headers = dict(headers or {})
        text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
        if raw_bytes is not None:  # as API Gateway hands over a binary media type
            text = base64.b64encode(raw_bytes).decode("ascii")
        if text is not None:
            headers.setdefault("Content-Type", "application/json")
        authorizer: dict[str, Any] | None = None
        if api_key is not None:
            answer = authorize(api_key, method, path, headers)
            if isinstance(answer, ApiResponse):
                return answer
            authorizer = answer
        elif tenant is not None:
            authorizer = {"tenant_id": tenant, "scopes": scopes, "principalId": tenant}
        binary = raw_bytes is not None
        event = build_event(
            method, path, body=text, headers=headers, query=query, authorizer=authorizer, is_base64=binary
        )
        result = lambda_handler(event, FakeLambdaContext())
        assert isinstance(result["statusCode"], int)
        multi = {name: ", ".join(values) for name, values in (result.get("multiValueHeaders") or {}).items()}
        return ApiResponse(
            status=result["statusCode"],
            headers={**multi, **(result.get("headers") or {})},
            text=result.get("body") or "",
        )

    return call


@pytest.fixture
def tenants(aws):
    from audience.tenants import create_tenant

    def make(name: str = "Acme") -> tuple[str, str]:
        return create_tenant(name)

    return make
