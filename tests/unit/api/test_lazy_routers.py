"""The api loads its routers per request (``app.ROUTERS_BY_RESOURCE``), not at import: the table must
name exactly the routers with a route under each first path segment, and however late or in whatever
order routers are loaded, matching and the document must see the routes as if all had been included
at import in ``ROUTERS`` order."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

_ROUTES = """
import json, sys
from functions.api import app as api
for names in json.loads(sys.argv[1]):
    api.app.include_routers(names)
api.app.include_every_router()
routes = [(r.method, r.path) for r in api.app._static_routes + api.app._dynamic_routes]
modules = [r.func.__module__ for r in api.app._static_routes + api.app._dynamic_routes]
print(json.dumps({"routes": routes, "modules": modules, "cors": sorted(api.app._cors_methods),
                  "cors_seeded": sorted(api.CORS_METHODS),
                  "routers": list(api.ROUTERS), "by_resource": api.ROUTERS_BY_RESOURCE}))
"""


def _routes_after_loading(*batches: list[str]) -> dict:
    env = {
        "PYTHONPATH": f"{ROOT}:{ROOT / 'layers/audience'}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "CORS_ALLOW_ORIGIN": "https://console.example",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", _ROUTES, json.dumps(list(batches))],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_resource_table_names_exactly_the_routers_serving_each_first_path_segment():
    found = _routes_after_loading()
    served: dict[str, set[str]] = defaultdict(set)
    for (_, path), module in zip(found["routes"], found["modules"], strict=True):
        if module.startswith("functions.api.routers."):
            served[path.split("/")[1]].add(module.rpartition(".")[2])
    assert {k: set(v) for k, v in found["by_resource"].items()} == served


def test_every_router_module_is_listed():
    modules = {
        p.stem
        for p in (ROOT / "functions/api/routers").glob("*.py")
        if "\nrouter = Router()" in p.read_text(encoding="utf-8")
    }
    assert set(_routes_after_loading()["routers"]) == modules


def test_routes_keep_the_import_order_whatever_order_requests_load_their_routers_in():
    """Powertools matches static routes first, then dynamic ones in registration order, and the
    document lists them in that order: a request for /contacts/{id}/segments loading trust before
    segments must not change either."""
    all_at_once = _routes_after_loading()
    late = _routes_after_loading(["contacts", "trust"], ["tenant"], ["segments", "jobs", "evaluation", "trust"])
    assert late["routes"] == all_at_once["routes"]
    static = [route for route in all_at_once["routes"] if "<" not in route[1]]
    assert static[-2:] == [["GET", "/openapi.json"], ["GET", "/docs"]]  # the app's own, after the routers


def test_a_cors_preflight_allows_the_methods_of_every_route_before_any_router_is_loaded():
    found = _routes_after_loading()
    assert found["cors"] == found["cors_seeded"]
