"""Cold start per Lambda function: the handler module's import time in a fresh interpreter, whether
it loads pyarrow, and the unzipped size of what the function deploys (its code plus the layer)
against Lambda's 250 MB limit.

Import time is measured the way Lambda pays it on a cold start: a new interpreter with the
function's code directory and the layer on `sys.path`, the function's environment variables from
template.yaml, then `import app` timed inside the child (interpreter start-up itself excluded and
reported apart). The median of several runs is kept; the first run also compiles bytecode, as a
first deployment would, so it is dropped when there are more than two.
The import's CPU time (``time.process_time`` in the child) is reported beside its wall time and
decides the target: on a shared, loaded machine the wall time mostly counts waiting for a core.

The layer's size is what `sam build` installs from layers/audience/requirements.txt (the layer's
Makefile): the closure of those distributions' dependencies (botocore included, which pynamodb
requires; boto3 itself is the runtime's), measured as the files of those distributions in this
virtualenv that the layer's build keeps (`layers/audience/prune_layer.py`, the same rules the build
applies), plus the `audience` package itself.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import Requirement

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAYER_DIR = PROJECT_ROOT / "layers" / "audience"
LAMBDA_UNZIPPED_LIMIT_MB = 250
PYARROW_FREE = ("ApiFunction", "AuthorizerFunction")
TARGET_MS = 300
_PROBE = (
    "import json, sys, time\n"
    "started, cpu = time.perf_counter(), time.process_time()\n"
    "import {module}\n"
    "elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu\n"
    "handler = getattr({module}, {handler!r})\n"
    "print(json.dumps({{'seconds': elapsed, 'cpu_seconds': cpu, 'pyarrow': 'pyarrow' in sys.modules,\n"
    "                   'modules': len(sys.modules)}}))\n"
)


def _function_env(logical_id: str) -> dict[str, str]:
    from infra.template_resources import load_template, plan_resources

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_", "POWERTOOLS_"))}
    env.update(plan_resources(load_template()).env(logical_id))
    env.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_LAMBDA_FUNCTION_NAME": logical_id, "PYTHONPATH": str(LAYER_DIR)})
    return env


def import_time(logical_id: str, code_dir: Path, handler: str, runs: int = 5) -> dict[str, Any]:
    module, _, attribute = handler.rpartition(".")
    probe = _PROBE.format(module=module, handler=attribute)
    env = _function_env(logical_id)
    samples, cpu, process = [], [], []
    found: dict[str, Any] = {}
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", probe], cwd=code_dir, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        process.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"importing {logical_id}'s handler failed: {done.stderr[-1500:]}")
        found = json.loads(done.stdout.strip().splitlines()[-1])
        samples.append(found["seconds"])
        cpu.append(found["cpu_seconds"])
    kept = samples[1:] if len(samples) > 2 else samples
    kept_cpu = cpu[1:] if len(cpu) > 2 else cpu
    kept_process = process[1:] if len(process) > 2 else process
    return {
        "import_ms": _median(kept) * 1000,
        "import_ms_all": [round(s * 1000, 1) for s in samples],
        # CPU time of the import: on a shared, loaded machine the wall time mostly measures waiting
        "import_cpu_ms": _median(kept_cpu) * 1000,
        "import_cpu_ms_all": [round(s * 1000, 1) for s in cpu],
        "process_ms": _median(kept_process) * 1000,
        "imports_pyarrow": found["pyarrow"],
        "modules": found["modules"],
        "heaviest": heaviest_imports(code_dir, module, env),
    }


# ---------------------------------------------------------------------------------------------------
# The api's first request: what a cold start costs a caller is the import plus the first request,
# which loads that request's routers and the storage layer (``functions/api/app.py``).

FIRST_REQUESTS = (
    ("GET", "/segments", None),
    ("POST", "/segments", {"name": 7}),  # refused by Powertools' validation (422): no DynamoDB call
    ("POST", "/segments", {"name": "b", "type": "dynamic", "rules": {"field": "age", "op": "gt", "value": 3}}),
    ("PUT", "/contacts/ada", {"email": "ada@example.com", "first_name": "Ada"}),
    ("OPTIONS", "/segments", None),  # a CORS preflight
)
_FIRST_REQUEST_PROBE = """
import io, json, sys, time
from contextlib import redirect_stdout
method, path, body = sys.argv[1], sys.argv[2], sys.argv[3] or None
started, cpu = time.perf_counter(), time.process_time()
import app
imported, imported_cpu = time.perf_counter(), time.process_time()
event = {"resource": "/{proxy+}", "path": path, "httpMethod": method,
         "headers": {"Content-Type": "application/json", "Origin": "https://console.example"},
         "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
         "pathParameters": {"proxy": path[1:]}, "stageVariables": None,
         "requestContext": {"accountId": "1", "apiId": "a", "resourcePath": "/{proxy+}", "httpMethod": method,
                            "path": "/v1" + path, "stage": "v1", "requestId": "r",
                            "identity": {"sourceIp": "127.0.0.1"},
                            "authorizer": {"tenant_id": "bench", "scopes": "read,write"}},
         "body": body, "isBase64Encoded": False}
class Context:
    function_name = "api"; memory_limit_in_mb = 1024; aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:1:function:api"
    def get_remaining_time_in_millis(self): return 29000
with redirect_stdout(io.StringIO()):  # Powertools' metrics
    status = app.lambda_handler(event, Context())["statusCode"]
print(json.dumps({"status": status, "import_cpu": imported_cpu - cpu, "request_cpu": time.process_time() - imported_cpu,
                  "import_wall": imported - started, "request_wall": time.perf_counter() - imported}))
"""


def api_first_requests(runs: int = 5) -> list[dict[str, Any]]:
    """Import of the api plus one request, per kind of request, in a fresh interpreter each time.
    DynamoDB is a local stub answering every call with an empty result (no moto in the child: it
    would load boto3 and botocore first), so the figures are the function's own CPU."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from infra.template_resources import load_template

    class EmptyDynamoDB(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"Items": [], "Count": 0, "ScannedCount": 0, "Responses": {}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    spec = next(f for f in load_template().functions if f.logical_id == "ApiFunction")
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmptyDynamoDB)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**_function_env("ApiFunction"), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}"}
    rows = []
    try:
        for method, path, body in FIRST_REQUESTS:
            samples = []
            for _ in range(runs):
                done = subprocess.run(
                    [sys.executable, "-c", _FIRST_REQUEST_PROBE, method, path, json.dumps(body) if body else ""],
                    cwd=spec.code_dir, env=env, capture_output=True, text=True, timeout=120, check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"api {method} {path} failed: {done.stderr[-1500:]}")
                samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
            kept = samples[1:] if len(samples) > 2 else samples
            rows.append({
                "request": f"{method} {path}" + (" (422)" if samples[-1]["status"] == 422 else ""),
                "status": samples[-1]["status"],
                "import_cpu_ms": _median([s["import_cpu"] for s in kept]) * 1000,
                "request_cpu_ms": _median([s["request_cpu"] for s in kept]) * 1000,
                "total_cpu_ms": _median([s["import_cpu"] + s["request_cpu"] for s in kept]) * 1000,
                "total_wall_ms": _median([s["import_wall"] + s["request_wall"] for s in kept]) * 1000,
            })
    finally:
        server.shutdown()
    return rows


def heaviest_imports(code_dir: Path, module: str, env: dict[str, str], top: int = 3) -> list[tuple[str, float]]:
    """Top-level packages by the import time spent in their own modules (`python -X importtime`
    self times summed per package), in ms."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=code_dir, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
        if match:
            name = match.group(2).split(".")[0]
            totals[name] = totals.get(name, 0.0) + int(match.group(1)) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


# ---------------------------------------------------------------------------------------------------
# Sizes


def _closure(names: list[str], extras: dict[str, set[str]] | None = None) -> set[str]:
    """Installed distributions these requirements pull in (environment markers and extras honoured)."""
    seen: set[str] = set()
    pending = [Requirement(name) for name in names]
    while pending:
        req = pending.pop()
        key = _canonical(req.name)
        wanted_extras = set(req.extras)
        if key in seen and not wanted_extras:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(key)
        for text in dist.requires or []:
            child = Requirement(text)
            if child.marker is None:
                pending.append(child)
                continue
            for extra in wanted_extras or {""}:
                if child.marker.evaluate({"extra": extra}):
                    pending.append(child)
                    break
    return seen


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _layer_pruning() -> Any:
    """The layer build's own pruning rules (a script beside the layer's Makefile, not a package)."""
    spec = importlib.util.spec_from_file_location("prune_layer", LAYER_DIR / "prune_layer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dist_bytes(name: str) -> int:
    """Bytes of the distribution's files that the built layer keeps."""
    dist = metadata.distribution(name)
    pruned = _layer_pruning().pruned
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file() and not pruned(PurePosixPath(file.as_posix())):
            total += path.stat().st_size
    return total


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p))


def layer_size() -> dict[str, Any]:
    lines = [line.split("#")[0].strip() for line in (LAYER_DIR / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in lines if line]
    # what `pip install -t` puts in the layer: the requirements' whole closure (boto3 is left to the
    # runtime, but pynamodb's botocore and its dependencies are installed all the same)
    shipped = sorted(_closure(requirements))
    per_dist = {name: _dist_bytes(name) for name in shipped}
    package = _tree_bytes(LAYER_DIR / "audience")
    return {
        "distributions": {k: round(v / 2**20, 1) for k, v in sorted(per_dist.items(), key=lambda kv: -kv[1])},
        "dependencies_mb": sum(per_dist.values()) / 2**20,
        "audience_mb": package / 2**20,
        "layer_mb": (sum(per_dist.values()) + package) / 2**20,
    }


def coldstart(runs: int = 5) -> dict[str, Any]:
    """Every function of template.yaml: import time, pyarrow or not, code + layer size vs the limit."""
    from infra.template_resources import load_template

    layer = layer_size()
    functions = []
    for spec in load_template().functions:
        timing = import_time(spec.logical_id, spec.code_dir, spec.handler, runs=runs)
        code_mb = _tree_bytes(spec.code_dir) / 2**20
        total = code_mb + layer["layer_mb"]
        functions.append({
            "function": spec.logical_id,
            **timing,
            "code_mb": code_mb,
            "deployed_mb": total,
            "limit_share": total / LAMBDA_UNZIPPED_LIMIT_MB,
            "must_avoid_pyarrow": spec.logical_id in PYARROW_FREE,
            "ok": (not timing["imports_pyarrow"] and timing["import_cpu_ms"] < TARGET_MS)
            if spec.logical_id in PYARROW_FREE else True,
        })
    return {"layer": layer, "functions": functions, "api_first_requests": api_first_requests(runs),
            "limit_mb": LAMBDA_UNZIPPED_LIMIT_MB, "target_ms": TARGET_MS}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


if __name__ == "__main__":
    print(json.dumps(coldstart(int(sys.argv[1]) if len(sys.argv) > 1 else 5), indent=2, default=str))
