"""Benchmark children: fresh interpreters with the deployed functions' runtime settings.

A measurement runs in its own interpreter so that it has its own peak memory and its own moto. It gets
the settings every function gets from template.yaml's Globals (the literal variables, such as the
Arrow memory pool and OpenBLAS' threads, which take effect at interpreter start), so the figures are
the deployed code's, and a setting changed in the template changes the benchmark with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def runtime_settings() -> dict[str, str]:
    """The Globals' environment variables with literal values (resource names are left out)."""
    from infra.template_resources import load_template

    globals_ = load_template().global_function_properties
    variables = (globals_.get("Environment") or {}).get("Variables") or {}
    return {name: str(value) for name, value in variables.items() if isinstance(value, str | int | float)}


def environment(**overrides: str) -> dict[str, str]:
    """This process' environment, the functions' runtime settings over it, the project on the path."""
    return {**os.environ, **runtime_settings(), **overrides,
            "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "layers" / "audience")])}


def run_json(code: str, timeout: float = 3600) -> Any:
    """Run ``code`` (``json`` already imported) in a child; its last printed line, parsed as JSON."""
    done = subprocess.run([sys.executable, "-c", f"import json\n{code}"], cwd=PROJECT_ROOT, env=environment(),
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-1500:] or f"exit {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])
