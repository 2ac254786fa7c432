"""The api and authorizer functions must not load pyarrow (cold start, package size)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _modules_after_import(module: str, **extra_env: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    env = {
        "PYTHONPATH": f"{ROOT}:{ROOT / 'layers/audience'}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "PATH": "/usr/bin:/bin",
        **extra_env,
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    return set(out.stdout.split())


def test_the_api_function_does_not_import_pyarrow():
    assert "pyarrow" not in _modules_after_import("functions.api.app")


def test_importing_the_api_loads_neither_the_xray_sdk_nor_phonenumbers_even_with_tracing_configured():
    """Cold start: X-Ray is set up on the first invocation, and only when tracing is switched on;
    phone parsing is loaded by the first phone number, not by every request."""
    modules = _modules_after_import("functions.api.app", POWERTOOLS_TRACE_DISABLED="false",
                                    LAMBDA_TASK_ROOT=str(ROOT / "functions/api"))
    assert "aws_xray_sdk" not in modules
    assert "phonenumbers" not in modules


def test_the_authorizer_imports_neither_pyarrow_nor_the_api():
    modules = _modules_after_import("functions.authorizer.app")
    assert "pyarrow" not in modules
    assert "functions.api.app" not in modules
    assert "aws_lambda_powertools.event_handler.api_gateway" not in modules


def test_the_api_imports_in_the_lambda_layout_where_its_directory_is_the_code_root():
    """SAM packages functions/api/ alone (CodeUri), so ``functions.api`` must resolve without the repo."""
    code = (
        "import app, sys; assert callable(app.lambda_handler); "
        "print(sys.modules['functions.api.errors'].__file__)"
    )
    env = {
        "PYTHONPATH": f"{ROOT / 'functions/api'}:{ROOT / 'layers/audience'}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=ROOT / "functions/api",
    )
    assert out.stdout.strip().endswith("functions/api/errors.py")


def test_the_authorizer_imports_in_the_lambda_layout():
    env = {
        "PYTHONPATH": f"{ROOT / 'functions/authorizer'}:{ROOT / 'layers/audience'}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(
        [sys.executable, "-c", "import app; assert callable(app.lambda_handler)"],
        env=env,
        check=True,
        cwd=ROOT / "functions/authorizer",
    )


# Powertools' OpenAPI pydantic models (openapi.models, ~100 ms) and its Swagger UI package: only
# /openapi.json and /docs need them, so a cold start must not build them.
DOCUMENT_ONLY = (
    "aws_lambda_powertools.event_handler.openapi.models",
    "aws_lambda_powertools.event_handler.openapi.swagger_ui",
    "functions.api.swagger_ui",
)

_FIRST_REQUEST = """
import json, sys
import app
method, path, body = sys.argv[1:4]
event = {
    "resource": "/{proxy+}", "path": path, "httpMethod": method,
    "headers": {"Content-Type": "application/json", "Origin": "https://console.example"},
    "multiValueHeaders": {"Content-Type": ["application/json"], "Origin": ["https://console.example"]},
    "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": {"proxy": path[1:]}, "stageVariables": None,
    "requestContext": {"accountId": "1", "apiId": "a", "resourcePath": "/{proxy+}", "httpMethod": method,
                       "path": "/v1" + path, "stage": "v1", "requestId": "r",
                       "identity": {"sourceIp": "127.0.0.1"},
                       "authorizer": {"tenant_id": "t1", "scopes": "read,write"}},
    "body": body or None, "isBase64Encoded": False,
}
class Context:
    function_name = "api"; memory_limit_in_mb = 1024; aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:1:function:api"
    def get_remaining_time_in_millis(self): return 29000
loaded = set(sys.modules)
response = app.lambda_handler(event, Context())
print(json.dumps({"status": response["statusCode"], "headers": response.get("multiValueHeaders") or {},
                  "at_import": sorted(loaded), "after": sorted(sys.modules)}))
"""


def _first_request(method: str, path: str, body: str = "") -> dict:
    """Import the api in its Lambda layout, send it one request; the modules loaded by each."""
    env = {
        "PYTHONPATH": f"{ROOT / 'functions/api'}:{ROOT / 'layers/audience'}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "test",
        "CORS_ALLOW_ORIGIN": "https://console.example",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run([sys.executable, "-c", _FIRST_REQUEST, method, path, body], capture_output=True,
                         text=True, env=env, check=True, cwd=ROOT / "functions/api")
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_api_builds_powertools_openapi_models_only_for_the_document_not_on_import_or_a_validated_request():
    """A request validated by Powertools (here a 422 on a bad body) needs no OpenAPI model either,
    so deferring them saves the cold start instead of moving the cost to the first request; nor
    does the api load pyarrow or numpy (only the evaluating functions need them)."""
    found = _first_request("POST", "/segments", json.dumps({"name": 7}))
    assert found["status"] == 422
    for module in (*DOCUMENT_ONLY, "pyarrow", "numpy"):
        assert module not in found["at_import"]
        assert module not in found["after"]


# What a request loads only for the routes it may reach (``app.ROUTERS_BY_RESOURCE``): the routers,
# their use cases and request models, the storage layer with pynamodb, botocore's client machinery
# (HTTP stack included) and boto3. Importing them all was most of the api's cold start.
ROUTERS = ("segments", "contacts", "fields", "categories", "campaigns", "settings", "events", "imports", "jobs",
           "tenant", "evaluation", "trust")
STORAGE = ("pynamodb.models", "pynamodb.connection", "botocore.session", "botocore.client", "boto3",
           "audience.storage.records", "audience.storage.models", "audience.tenants")


def test_importing_the_api_loads_no_router_no_storage_layer_and_no_botocore_client():
    found = _first_request("OPTIONS", "/segments")
    for module in (*STORAGE, *(f"functions.api.routers.{name}" for name in ROUTERS), "audience.rules.schema"):
        assert module not in found["at_import"], module


def test_a_request_loads_only_the_routers_of_its_resource():
    found = _first_request("POST", "/segments", json.dumps({"name": 7}))
    assert found["status"] == 422
    loaded = {name for name in ROUTERS if f"functions.api.routers.{name}" in found["after"]}
    assert loaded == {"segments", "jobs", "evaluation", "trust"}


def test_a_cors_preflight_loads_no_router_and_allows_every_method_of_the_api():
    found = _first_request("OPTIONS", "/contacts/ada")
    assert found["status"] == 204
    assert found["headers"]["Access-Control-Allow-Methods"] == ["DELETE,GET,OPTIONS,PATCH,POST,PUT"]
    for module in (*STORAGE, *(f"functions.api.routers.{name}" for name in ROUTERS)):
        assert module not in found["after"], module


def test_the_openapi_document_still_carries_the_api_key_security_scheme():
    from functions.api.openapi_dump import document

    schema = document()
    assert schema["components"]["securitySchemes"] == {"apiKey": {"type": "apiKey", "name": "X-Api-Key",
                                                                  "in": "header"}}
    assert schema["security"] == [{"apiKey": []}]


_AUTHORIZE_ONCE = """
import json, sys
import app
from types import SimpleNamespace
from audience.storage import models
at_import = set(sys.modules)
stored = SimpleNamespace(tenant_id="acme", scopes=["read", "write"], revoked=False)
models.ApiKeyItem.get = classmethod(lambda cls, *key, **kw: stored)  # the one GetItem, answered here
event = {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:a/v1/GET/segments",
         "resource": "/segments", "path": "/segments", "httpMethod": "GET",
         "headers": {"X-Api-Key": "sk_acme_" + "a" * 32}, "requestContext": {"accountId": "1", "apiId": "a",
         "stage": "v1", "httpMethod": "GET", "path": "/v1/segments", "resourcePath": "/segments"}}
class Context:
    function_name = "authorizer"; memory_limit_in_mb = 256; aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:1:function:authorizer"
    def get_remaining_time_in_millis(self): return 9000
policy = app.lambda_handler(event, Context())
print(json.dumps({"policy": policy, "at_import": sorted(at_import), "after": sorted(sys.modules)}))
"""


def test_the_authorizers_cold_start_and_first_answer_load_neither_pydantic_nor_boto3():
    """The authorizer runs before every request: its one read (a key's tenant and scopes) needs no
    storage record (pydantic, ~120 ms of CPU to import) and no boto3 type serialiser (~45 ms)."""
    env = {"PYTHONPATH": f"{ROOT / 'functions/authorizer'}:{ROOT / 'layers/audience'}",
           "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", _AUTHORIZE_ONCE], capture_output=True, text=True, env=env,
                         check=True, cwd=ROOT / "functions/authorizer")
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["policy"]["principalId"] == "acme"
    assert answer["policy"]["context"] == {"tenant_id": "acme", "scopes": "read,write"}
    assert answer["policy"]["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    for loaded in (answer["at_import"], answer["after"]):
        assert "pydantic" not in loaded and "boto3" not in loaded
