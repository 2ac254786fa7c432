"""The api and authorizer functions must not load pyarrow (cold start, package size)."""

from __future__ import annotations

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
