"""The web console on the local stack: `console/dist` under `/console/`, and `/` redirects there.

Deployed, CloudFront serves the same build from S3 (template.yaml: ConsoleDistribution). Like it,
a path that is no file of the build is a route of the single-page app and gets `index.html`.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from infra.template_resources import PROJECT_ROOT

CONSOLE_DIST = PROJECT_ROOT / "console" / "dist"
PREFIX = "/console"
NOT_BUILT = (
    b"<!doctype html><title>Console not built</title><p>The console is not built: run "
    b"<code>make console/dist/index.html</code> (npm ci and npm run build in console/).</p>"
)

Answer = tuple[int, list[tuple[str, str]], bytes]


def allow_origin(s3, resources, origin: str) -> None:
    """Add the local console's origin to every bucket CORS rule of the template (they name the
    CloudFront origin, which does not exist here), so browser uploads to presigned URLs work."""
    for logical_id, name in resources.buckets.items():
        cors = resources.template.properties(logical_id).get("CorsConfiguration")
        if not cors:
            continue
        rules = s3.get_bucket_cors(Bucket=name)["CORSRules"]
        for rule in rules:
            rule["AllowedOrigins"] = [*rule.get("AllowedOrigins", []), origin]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})


def serves(method: str, path: str) -> bool:
    """Whether the console answers this request (everything else goes to the API)."""
    return method in ("GET", "HEAD") and (path == "/" or path == PREFIX or path.startswith(PREFIX + "/"))


def answer(path: str, dist: Path = CONSOLE_DIST) -> Answer:
    if path in ("/", PREFIX):
        return 302, [("Location", PREFIX + "/")], b""
    index = dist / "index.html"
    if not index.is_file():
        return 503, [("Content-Type", "text/html; charset=utf-8")], NOT_BUILT
    relative = path[len(PREFIX) + 1 :]
    target = (dist / relative).resolve() if relative else index
    if not target.is_relative_to(dist.resolve()) or not target.is_file():
        if relative.startswith("assets/") or relative == "config.json":
            return 404, [("Content-Type", "text/plain")], b"not found"
        target = index  # a route of the app
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type == "application/javascript":
        content_type += "; charset=utf-8"
    # Hashed assets never change; index.html must be re-read after every build.
    cache = "public, max-age=31536000, immutable" if relative.startswith("assets/") else "no-cache"
    return 200, [("Content-Type", content_type), ("Cache-Control", cache)], target.read_bytes()
