"""API Gateway REST proxy events as the authorizer-fronted API receives them."""

from __future__ import annotations

import json
from typing import Any


def api_event(method: str, path: str, body: Any = None, tenant: str = "acme", scopes: str = "read,write") -> dict:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "X-Api-Key": "sk_redacted"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "req-1",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"tenant_id": tenant, "scopes": scopes, "principalId": tenant},
        },
        "body": None if body is None else (body if isinstance(body, str) else json.dumps(body)),
        "isBase64Encoded": False,
    }


def call_api(method: str, path: str, body: Any = None, **kwargs) -> tuple[int, Any]:
    from functions.api.app import lambda_handler
    from tests.integration.imports.helpers import LambdaContext

    response = lambda_handler(api_event(method, path, body, **kwargs), LambdaContext())
    payload = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], payload
