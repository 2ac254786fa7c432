"""Tenant and API-key administration from a shell, against AWS or the local stack.

    python -m infra.admin create-tenant --name "Acme" [--tenant-id acme] [--default-region US]
    python -m infra.admin create-key --tenant acme --scopes read[,write] [--key-name reporting]
    python -m infra.admin revoke-key --tenant acme --key sk_acme_...

Where the MainTable is found (first that applies):
  --main-table NAME | --stack STACK (the CloudFormation stack SAM deployed; its MainTable resource)
  | $MAIN_TABLE | with --endpoint-url, the name the local stack gives it (infra.template_resources).
``--endpoint-url http://127.0.0.1:<moto port>`` talks to the local stack's embedded moto server
(``GET /_local/info`` prints it as ``aws_endpoint``). Keys are printed once and stored only hashed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _main_table(args: argparse.Namespace) -> str:
    if args.main_table:
        return args.main_table
    if args.stack:
        import boto3

        cloudformation = boto3.client("cloudformation", region_name=args.region)
        resource = cloudformation.describe_stack_resource(StackName=args.stack, LogicalResourceId="MainTable")
        return resource["StackResourceDetail"]["PhysicalResourceId"]
    if os.environ.get("MAIN_TABLE"):
        return os.environ["MAIN_TABLE"]
    if args.endpoint_url:
        from infra.template_resources import plan_resources

        return plan_resources(endpoint_url=args.endpoint_url).name("MainTable")
    raise SystemExit("say which table: --main-table, --stack, $MAIN_TABLE or --endpoint-url (local stack)")


def _configure(args: argparse.Namespace) -> None:
    """Point audience.settings at the chosen table and endpoint before any model is used."""
    os.environ["MAIN_TABLE"] = _main_table(args)
    if args.region:
        os.environ["AWS_REGION"] = args.region
        os.environ["AWS_DEFAULT_REGION"] = args.region
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
        # moto accepts any credentials; real ones are never needed for the local stack.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    from audience.settings import get_settings

    get_settings.cache_clear()


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint-url", help="AWS endpoint (the local stack's moto server)")
    common.add_argument("--main-table", help="MainTable name")
    common.add_argument("--stack", help="CloudFormation stack name to look the MainTable up in")
    common.add_argument(
        "--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )

    root = argparse.ArgumentParser(prog="python -m infra.admin", description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    tenant = commands.add_parser("create-tenant", parents=[common], help="create a tenant and its first key")
    tenant.add_argument("--name", required=True)
    tenant.add_argument("--tenant-id", help="explicit id (2-63 of a-z 0-9 -); default: from the name")
    tenant.add_argument("--default-region", help="region for phone numbers without a country code, e.g. US")
    key = commands.add_parser("create-key", parents=[common], help="issue another key for a tenant")
    key.add_argument("--tenant", required=True)
    key.add_argument("--scopes", default="read,write", help="read or read,write (default)")
    key.add_argument("--key-name", help="a label to recognise the key by")
    revoke = commands.add_parser("revoke-key", parents=[common], help="revoke a key at once")
    revoke.add_argument("--tenant", required=True)
    revoke.add_argument("--key", required=True)
    return root


def run(argv: list[str] | None = None) -> dict[str, object]:
    args = parser().parse_args(argv)
    _configure(args)
    from audience import tenants
    from audience.storage import tenants_repo

    if args.command == "create-tenant":
        tenant_id, api_key = tenants.create_tenant(
            args.name, tenant_id=args.tenant_id, default_region=args.default_region
        )
        return {"tenant_id": tenant_id, "api_key": api_key, "scopes": list(tenants.SCOPES)}
    if args.command == "create-key":
        api_key = tenants.create_api_key(args.tenant, args.scopes, name=args.key_name)
        return {
            "tenant_id": args.tenant,
            "api_key": api_key,
            "scopes": list(tenants.normalise_scopes(args.scopes)),
        }
    revoked = tenants_repo.revoke_key(args.tenant, args.key)
    return {"tenant_id": args.tenant, "revoked": revoked}


def main(argv: list[str] | None = None) -> int:
    from audience.errors import DomainError

    try:
        result = run(argv)
    except DomainError as exc:
        print(json.dumps({"error": exc.to_dict()}), file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
