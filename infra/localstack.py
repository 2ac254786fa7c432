"""`make run`: the whole service on this machine, no AWS account, no Docker.

    python -m infra.localstack [--port 3000] [--any-port] [--demo] [--verbose]

One process, and moto in server mode on a free port in a child process of its own (infra.local_moto:
it does not share an interpreter lock with the pollers and functions); every table, bucket and queue created from
template.yaml (infra.template_resources); the real functions loaded from functions/*/app.py; an HTTP
front door on 127.0.0.1:PORT playing API Gateway (REST proxy events through the real authorizer);
pollers playing Lambda's SQS and DynamoDB-stream event sources; the evaluator on the template's
schedule. Local-only endpoints:

    GET  /_local/info       -> {"api", "aws_endpoint", "region", "buckets", "tables", "queues", "tenants"}
    POST /_local/tenants    {"name"} -> {"tenant_id", "api_key"}
    POST /_local/schedule   runs the scheduled job now and returns what the evaluator returns
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import os
import re
import secrets
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("localstack")

DEFAULT_PORT = 3000
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "SegmentsLocal",
}


class PortBusy(Exception):
    pass


@dataclass
class LocalTenant:
    tenant_id: str
    name: str
    api_key: str


@dataclass
class LocalStack:
    """A running local stack (what the local endpoints and the demo loader work with)."""

    resources: Any  # infra.template_resources.LocalResources
    functions: dict[str, Any]  # logical id -> infra.local_functions.LocalFunction
    api_url: str
    aws_endpoint: str
    gateway: Any = None  # infra.local_api.ApiGateway
    tenants: list[LocalTenant] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    # -- tenants
    def create_tenant(self, name: str) -> LocalTenant:
        """A tenant with a read+write API key, through the layer's own tenant/key storage."""
        from audience.errors import Conflict
        from audience.storage import tenants_repo

        base = tenant_slug(name)
        for attempt in range(20):
            tenant_id = base if attempt == 0 else f"{base[:56]}-{secrets.token_hex(3)}"
            try:
                tenants_repo.create_tenant(tenant_id, name)
            except Conflict:
                continue
            tenant = LocalTenant(tenant_id=tenant_id, name=name, api_key=tenants_repo.issue_key(tenant_id))
            self.tenants.append(tenant)
            log.info("tenant %s (%s) created", tenant_id, name)
            return tenant
        raise RuntimeError(f"could not find a free tenant id for {name!r}")

    # -- scheduled job
    def schedule_functions(self) -> list[tuple[Any, Any]]:
        return [(fn, ev) for fn in self.functions.values() for ev in fn.spec.events_of_type("Schedule")]

    def run_schedule_now(self) -> Any:
        """Invoke every scheduled function as EventBridge would, now; the evaluator's answer is returned."""
        from infra.local_triggers import scheduled_event

        answers = []
        for function, event in self.schedule_functions():
            rule = f"{self.resources.prefix}-{function.name}-{event.name}"
            answers.append(function.invoke(scheduled_event(self.resources, rule, datetime.now(UTC))))
        return answers[0] if len(answers) == 1 else {"results": answers}

    # -- local endpoints
    def info(self) -> dict[str, Any]:
        return {
            "api": self.api_url,
            "docs": f"{self.api_url}/docs",
            "aws_endpoint": self.aws_endpoint,
            "region": self.resources.region,
            "buckets": self.resources.buckets,
            "tables": self.resources.tables,
            "queues": self.resources.queues,
            "env": self.resources.env(),
            "tenants": [{"tenant_id": t.tenant_id, "name": t.name, "api_key": t.api_key} for t in self.tenants],
        }

    def local_routes(self) -> dict[tuple[str, str], Any]:
        def info(method: str, payload: Any) -> tuple[int, Any]:
            return 200, self.info()

        def tenants(method: str, payload: Any) -> tuple[int, Any]:
            name = payload.get("name") if isinstance(payload, dict) else None
            if not isinstance(name, str) or not name.strip() or len(name) > 200:
                return 422, {
                    "error": {
                        "code": "invalid",
                        "message": "name: a non-empty string is required",
                        "details": [{"path": "/name", "message": "required, 1-200 characters"}],
                    }
                }
            tenant = self.create_tenant(name.strip())
            return 201, {"tenant_id": tenant.tenant_id, "api_key": tenant.api_key}

        def schedule(method: str, payload: Any) -> tuple[int, Any]:
            return 200, self.run_schedule_now()

        return {
            ("GET", "/_local/info"): info,
            ("POST", "/_local/tenants"): tenants,
            ("POST", "/_local/schedule"): schedule,
        }


def tenant_slug(name: str) -> str:
    """A tenant id from a display name: lower-case letters, digits and '-', 2-63 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    if len(slug) < 2:
        slug = f"t-{secrets.token_hex(3)}"
    return slug


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start(
    port: int,
    *,
    any_port: bool = False,
    host: str = "127.0.0.1",
    demo_tenant: str | None = "Demo",
    retry_delay: int = 2,
) -> tuple[LocalStack, Any]:
    """Start everything; returns the stack and the front door server (not yet serving)."""
    from infra.template_resources import PROJECT_ROOT

    for path in (PROJECT_ROOT / "layers" / "audience", PROJECT_ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    region = os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_REGION"] = region

    # Bind the front door first: a busy port fails fast, before anything else starts.
    from infra.local_api import ApiGateway, FrontDoor

    try:
        probe = socket.socket()
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        probe.close()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or not any_port:
            raise PortBusy(f"port {port} on {host} is in use") from exc
        port = free_port(host)

    import boto3

    from infra import local_botocore, local_wire
    from infra.local_moto import LocalMotoServer

    local_botocore.install()  # the functions' DynamoDB item requests written with json.dumps
    local_wire.install()  # the functions' batch writes sent as DynamoDB's wire request

    moto = LocalMotoServer(host)
    moto.start()
    moto_host, moto_port = moto.get_host_and_port()
    endpoint = f"http://{moto_host}:{moto_port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint

    from infra.template_resources import create_resources, load_template

    session = boto3.Session(region_name=region)
    resources = create_resources(session, load_template(), endpoint_url=endpoint, region=region)
    os.environ.update(resources.env())  # before any function (or Powertools, or pynamodb) is imported
    log.info(
        "moto on %s: %d tables, %d buckets, %d queues from template.yaml",
        endpoint,
        len(resources.tables),
        len(resources.buckets),
        len(resources.queues),
    )

    from infra.local_console import allow_origin
    from infra.local_functions import local_functions

    s3 = session.client("s3", region_name=region, endpoint_url=endpoint)
    allow_origin(s3, resources, f"http://{host}:{port}")  # browser uploads from the console
    functions = local_functions(resources)
    for function in functions.values():
        if function.available:
            try:
                function.load()
            except Exception:  # like a Lambda init error: this function fails, the rest keeps running
                log.exception("%s failed to load; its invocations will fail until it is fixed", function.name)
        else:
            log.warning("%s: %s is missing; its triggers are not wired", function.name, function.spec.module_file)

    gateway = ApiGateway(resources, functions)
    stack = LocalStack(
        resources=resources,
        functions=functions,
        api_url=f"http://{host}:{port}",
        aws_endpoint=endpoint,
        gateway=gateway,
    )
    server = FrontDoor((host, port), gateway, stack.local_routes())
    stack.threads.extend(_triggers(stack, session, endpoint, retry_delay))
    for thread in stack.threads:
        thread.start()
    for thread in stack.threads:
        ready = getattr(thread, "ready", None)
        if ready is not None:
            ready.wait(10)
    if demo_tenant:
        stack.create_tenant(demo_tenant)
    stack._moto = moto  # type: ignore[attr-defined]
    settle_heap()
    return stack, server


YOUNG_COLLECTION_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


def settle_heap() -> None:
    """Take what start-up built out of the cyclic collector's view, and collect the young less often.

    This process holds every function's modules, models and botocore clients (a few hundred
    thousand objects that live as long as the stack), and its functions build many short-lived
    containers: an import plans ~30 dicts a row, the stream decodes ~1,000 contact images a
    GetRecords. CPython's collections walked the start-up objects again and again: planning a
    5,000-row chunk cost ~85 us a row with the collector as it comes, ~63 frozen, ~50 frozen and
    with young collections every 10,000 allocations, ~43 without any collection. Frozen
    (``gc.freeze``, after a full collection so no garbage is frozen with them) they are never walked
    again; an object frozen here that later becomes part of a garbage cycle stays in memory until the
    stack stops (once: later objects are collected as before)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


def _triggers(stack: LocalStack, session: Any, endpoint: str, retry_delay: int) -> list[threading.Thread]:
    from infra.local_functions import event_concurrency
    from infra.local_triggers import Scheduler, SqsPoller, StreamPoller

    region = stack.resources.region
    threads: list[threading.Thread] = []
    for function in stack.functions.values():
        if not function.available:
            continue
        for event in function.spec.events:
            sqs = session.client("sqs", region_name=region, endpoint_url=endpoint)
            if event.type == "SQS":
                # one poller per invocation the queue may run at once, up to the function's environments
                pollers = min(function.environments, event_concurrency(event))
                for _ in range(pollers):  # boto3 clients are thread-safe: the pollers share one
                    threads.append(SqsPoller(function, event, stack.resources, sqs, stack.stop, retry_delay))
            elif event.type == "DynamoDB":
                streams = session.client("dynamodbstreams", region_name=region, endpoint_url=endpoint)
                threads.append(StreamPoller(function, event, stack.resources, streams, sqs, stack.stop))
            elif event.type == "Schedule" and event.properties.get("Enabled", True):
                threads.append(Scheduler(function, event, stack.resources, stack.stop))
    return threads


def banner(stack: LocalStack) -> str:
    lines = [
        "",
        "=" * 72,
        "  Segments is running locally (moto: no AWS account, no Docker)",
        "",
        f"  API          {stack.api_url}",
        f"  Swagger UI   {stack.api_url}/docs",
        f"  Local info   {stack.api_url}/_local/info",
        f"  AWS endpoint {stack.aws_endpoint}  (presigned upload URLs point here)",
    ]
    for tenant in stack.tenants:
        lines += ["", f"  Tenant {tenant.tenant_id!r} API key:", f"    {tenant.api_key}"]
    if stack.tenants:
        key = stack.tenants[0].api_key
        lines += ["", "  Try:", f"    curl -H 'X-Api-Key: {key}' {stack.api_url}/segments"]
    lines += ["", "  Ctrl-C stops everything.", "=" * 72, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.localstack", description="Run the service locally.")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", DEFAULT_PORT)),
        help="front door port (default: $PORT or 3000)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--any-port", action="store_true", help="if the port is busy, pick a free one")
    parser.add_argument("--demo", action="store_true", help="load a realistic demo tenant and evaluate it")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    from infra.local_logs import configure

    configure(args.verbose)
    try:
        stack, server = start(args.port, any_port=args.any_port, host=args.host)
    except PortBusy as exc:
        print(f"error: {exc}. Stop the other process, set PORT=<port>, or pass --any-port.", file=sys.stderr)
        return 2

    serving = threading.Event()

    def shut_down(signum: int, frame: Any) -> None:
        log.info("stopping (signal %d)", signum)
        stack.stop.set()
        if serving.is_set():
            threading.Thread(target=server.shutdown, daemon=True).start()
        else:  # still starting (e.g. loading the demo): unwind the main thread now
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, shut_down)
    signal.signal(signal.SIGTERM, shut_down)

    try:
        if args.demo:
            from infra.demo import load_demo

            print(load_demo(stack), flush=True)
        elif stack.tenants:
            from infra.demo import load_sample

            print(load_sample(stack), flush=True)
        print(banner(stack), flush=True)
        log.info("ready on %s", stack.api_url)
        serving.set()
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop.set()
        server.server_close()
        for thread in stack.threads:
            thread.join(timeout=3)
        stack._moto.stop()  # type: ignore[attr-defined]
        log.info("stopped")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is stopped and nothing is persisted: skip tearing down the in-memory AWS state
    # object by object, which takes many seconds after a --demo run.
    os._exit(status)
