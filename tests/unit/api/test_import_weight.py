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
event = {
    "resource": "/{proxy+}", "path": "/segments", "httpMethod": "POST",
    "headers": {"Content-Type": "application/json"},
    "multiValueHeaders": {"Content-Type": ["application/json"]},
    "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": {"proxy": "segments"}, "stageVariables": None,
    "requestContext": {"accountId": "1", "apiId": "a", "resourcePath": "/{proxy+}", "httpMethod": "POST",
                       "path": "/v1/segments", "stage": "v1", "requestId": "r",
                       "identity": {"sourceIp": "127.0.0.1"},
                       "authorizer": {"tenant_id": "t1", "scopes": "read,write"}},
    "body": json.dumps({"name": 7}), "isBase64Encoded": False,
}
class Context:
    function_name = "api"; memory_limit_in_mb = 1024; aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:1:function:api"
    def get_remaining_time_in_millis(self): return 29000
loaded = set(sys.modules)
response = app.lambda_handler(event, Context())
print(json.dumps({"status": response["statusCode"], "at_import": sorted(loaded), "after": sorted(sys.modules)}))
"""


def test_the_api_builds_powertools_openapi_models_only_for_the_document_not_on_import_or_a_validated_request():
    """A request validated by Powertools (here a 422 on a bad body) needs no OpenAPI model either,
    so deferring them saves the cold start instead of moving the cost to the first request; nor
    does the api load pyarrow or numpy (only the evaluating functions need them)."""
    env = {
        "PYTHONPATH": f"{ROOT / 'functions/api'}:{ROOT / 'layers/audience'}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "test",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run([sys.executable, "-c", _FIRST_REQUEST], capture_output=True, text=True, env=env,
                         check=True, cwd=ROOT / "functions/api")
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["status"] == 422
    for module in (*DOCUMENT_ONLY, "pyarrow", "numpy"):
        assert module not in found["at_import"]
        assert module not in found["after"]


def test_the_openapi_document_still_carries_the_api_key_security_scheme():
    from functions.api.openapi_dump import document

    schema = document()
    assert schema["components"]["securitySchemes"] == {"apiKey": {"type": "apiKey", "name": "X-Api-Key",
                                                                  "in": "header"}}
    assert schema["security"] == [{"apiKey": []}]
