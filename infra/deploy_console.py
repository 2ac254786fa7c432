"""`make deploy-console`: upload console/dist to the deployed stack's console bucket.

    python -m infra.deploy_console [--stack segments] [--region us-east-1]

Reads the stack's outputs (ConsoleBucketName, ConsoleDistributionId, ApiUrl), uploads the build
under `console/` (hashed assets cached for a year, index.html revalidated), writes
`console/config.json` with the API's URL (the app reads it to know where the API is), and
invalidates CloudFront's copy of index.html and config.json.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path

from infra.local_console import CONSOLE_DIST

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def stack_outputs(cloudformation, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def upload_plan(dist: Path) -> list[tuple[Path, str, str, str]]:
    """(file, key, content type, cache control) for every file of the build."""
    plan = []
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        relative = path.relative_to(dist).as_posix()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        cache = IMMUTABLE if relative.startswith("assets/") else REVALIDATE
        plan.append((path, f"console/{relative}", content_type, cache))
    return plan


def deploy(session, stack: str, dist: Path = CONSOLE_DIST) -> str:
    if not (dist / "index.html").is_file():
        raise SystemExit(f"{dist}/index.html is missing: build the console first (make console/dist/index.html)")
    outputs = stack_outputs(session.client("cloudformation"), stack)
    bucket, distribution = outputs["ConsoleBucketName"], outputs["ConsoleDistributionId"]
    s3 = session.client("s3")
    for path, key, content_type, cache in upload_plan(dist):
        s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type, "CacheControl": cache})
    config = json.dumps({"apiUrl": outputs["ApiUrl"]}).encode()
    s3.put_object(Bucket=bucket, Key="console/config.json", Body=config, ContentType="application/json",
                  CacheControl=REVALIDATE)  # fmt: skip
    session.client("cloudfront").create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": 2, "Items": ["/console/index.html", "/console/config.json"]},
            "CallerReference": f"deploy-console-{time.time_ns()}",
        },
    )
    return outputs.get("ConsoleUrl", f"s3://{bucket}/console/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy_console", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="segments", help="CloudFormation stack name (samconfig.toml's)")
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)
    import boto3

    url = deploy(boto3.Session(region_name=args.region), args.stack)
    print(f"console deployed: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
