"""moto's own CPU per item written or read, on the local stack's moto server, by request kind.

``python -m bench.moto_items [SCALE] [REPEATS]`` starts the local stack's moto server in a child
process (``infra.local_moto.LocalMotoServer``, with its patches), creates the template's tables there
and sends it requests shaped like the demo's and the importer's, each kind in turn:

- ``memberships``: BatchWriteItem of 25 (memberships and their ``joined`` history entries, as the
  first run writes them; MembershipsTable, its GSI, no stream), 8 requests in flight;
- ``contacts_batch``: BatchWriteItem of 25 contacts (ContactsTable: GSI and stream);
- ``contact_transactions``: TransactWriteItems of 33 new contacts each with two key claims (99 items,
  conditions as the importer sends them), 4 in flight;
- ``claim_transactions``: TransactWriteItems of 100 watermark claims (``SET #seen = :at`` under a
  condition), as the contact stream sends them;
- ``update_item``: single conditional UpdateItem claims (the lone change's path);
- ``query``: the contacts partition read page by page (the first snapshot), items read;
- ``batch_get``: BatchGetItem of 100 contacts, items read.

moto's CPU for a kind is the child's user+system time (``/proc/<pid>/stat``) across that kind's
requests, so the client's own work is not in it. With ``--in-process`` the same server runs on a
thread of this process instead, and each request's CPU is measured on the thread that handles it
(``time.thread_time``): no connection threads' switching is counted, and the median request (per
item) is reported too, which a loaded machine disturbs less than the sum. Each repeat uses a new
tenant; the first repeat warms up and is not reported. Prints JSON: per kind the median moto CPU in ms per item, and all
repeats. ``PYTHONPATH`` decides which ``infra`` (which patches) the server runs: point it at an older
worktree to measure old code with this script.

``python -m bench.moto_items --snapshot [CONTACTS] [REPEATS]`` measures the first snapshot's read alone:
CONTACTS demo-like contacts (``infra.demo.generate``'s rows as the importer stores them, about 1 KB
each; 20,000 by default) written to one tenant by BatchWriteItem, then read whole by a paged Query
without a ``Limit`` (1 MB pages, as the snapshot reads them), REPEATS times after a warm-up; moto's
CPU seconds per full read and per item, with the same two ways of counting CPU.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def contact(tenant: str, contact_id: str, n: int, stamp: str) -> dict[str, Any]:
    """A contact's attribute map as the importer writes it (``contact_attributes`` plus a version)."""
    fields = {
        "email": {"S": f"lead{n}@example{n % 97}.com"},
        "phone": {"S": f"+1415555{n % 10000:04d}"},
        "first_name": {"S": f"First{n}"},
        "last_name": {"S": f"Last{n % 311}"},
        "city": {"S": ["Paris", "Berlin", "Austin", "Lyon"][n % 4]},
        "score": {"N": str(n % 1000)},
        "vip": {"BOOL": n % 7 == 0},
        "tags": {"L": [{"S": "lead"}, {"S": f"t{n % 13}"}]},
    }
    return {
        "pk": {"S": tenant},
        "sk": {"S": contact_id},
        "fields": {"M": fields},
        "created_at": {"S": stamp},
        "updated_at": {"S": stamp},
        "erased": {"BOOL": False},
        "gsi1pk": {"S": tenant},
        "gsi1sk": {"S": f"{stamp}#{contact_id}"},
        "version": {"N": "1"},
    }


def membership_puts(tenant: str, segment: str, ids: list[str], stamp: str) -> list[dict[str, Any]]:
    """A membership and its ``joined`` history entry per id, as the first run writes them."""
    puts = []
    for cid in ids:
        puts.append(
            {
                "pk": {"S": f"{tenant}#M#{segment}"},
                "sk": {"S": cid},
                "gsi1pk": {"S": f"{tenant}#C#{cid}"},
                "gsi1sk": {"S": segment},
                "source": {"S": "rules"},
                "added_at": {"S": stamp},
            }
        )
        puts.append(
            {
                "pk": {"S": f"{tenant}#H#{segment}"},
                "sk": {"S": f"{stamp}#{cid}#joined"},
                "gsi1pk": {"S": f"{tenant}#CH#{cid}"},
                "gsi1sk": {"S": f"{stamp}#{segment}#joined"},
                "source": {"S": "rules"},
                "ttl": {"N": "1830000000"},
                "run_id": {"S": "run-1"},
                "rules_version": {"N": "3"},
            }
        )
    return puts


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class _Requests:
    """CPU seconds of each request the in-process server handled, by the kind being sent."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.seconds: dict[str, list[float]] = {}

    def handler(self) -> Any:
        from infra.local_moto_server import LocalRequestHandler

        requests = self

        class Timed(LocalRequestHandler):
            def run_wsgi(self) -> None:
                kind, started = requests.kind, time.thread_time()
                try:
                    super().run_wsgi()
                finally:
                    if kind is not None:
                        requests.seconds.setdefault(kind, []).append(time.thread_time() - started)

        return Timed


def run_kinds(
    ddb: Any, tables: dict[str, str], scale: int, pid: int | None, timed_requests: _Requests | None = None
) -> dict[str, dict[str, float]]:
    """Every kind once on a new tenant: moto CPU seconds, items, requests and wall seconds of each
    (CPU of the moto process when ``pid`` is given, else of the server's request threads)."""
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    stamp = "2026-12-07T01:02:03.456Z"
    contacts_t, main_t, members_t = tables["contacts"], tables["main"], tables["memberships"]
    results: dict[str, dict[str, float]] = {}

    def timed(kind: str, requests: list[Any], send: Any, threads: int, items: int | None = None) -> list[Any]:
        started_cpu, started = cpu_seconds(pid) if pid else 0.0, time.monotonic()
        if timed_requests is not None:
            timed_requests.kind = kind
        with ThreadPoolExecutor(threads) as pool:
            answers = list(pool.map(send, requests))
        wall = time.monotonic() - started
        counted = items if items is not None else sum(len(r) for r in requests)
        if timed_requests is not None:
            timed_requests.kind = None
            per_request = timed_requests.seconds.pop(kind, [])
            cpu, served = sum(per_request), len(per_request)
            median = statistics.median(per_request) if per_request else 0.0
        else:
            cpu, served, median = cpu_seconds(pid) - started_cpu, len(requests), 0.0
        results[kind] = {
            "moto_cpu_s": cpu,
            "items": counted,
            "requests": served,
            "wall_s": wall,
            "median_request_cpu_s": median,
        }
        return answers

    ids = [f"c{n:07d}" for n in range(scale * 25)]
    puts = membership_puts(tenant, "seg-1", ids[: scale * 25 // 2], stamp)

    def batch(table: str) -> Any:
        def send(chunk: list[dict[str, Any]]) -> Any:
            answer = ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in chunk]})
            assert not answer["UnprocessedItems"], answer

        return send

    timed("memberships", _chunks(puts, 25), batch(members_t), 8)
    batch_contacts = [contact(tenant, f"b{n:07d}", n, stamp) for n in range(scale * 10)]
    timed("contacts_batch", _chunks(batch_contacts, 25), batch(contacts_t), 8)

    transactions = []
    for chunk in _chunks(list(range(scale * 33 // 4)), 33):
        items = []
        for n in chunk:
            items.append(
                {
                    "Put": {
                        "TableName": contacts_t,
                        "Item": contact(tenant, f"t{n:07d}", n, stamp),
                        "ConditionExpression": "attribute_not_exists (#0)",
                        "ExpressionAttributeNames": {"#0": "version"},
                    }
                }
            )
            for kind, value in (("email", f"lead{n}@x.com"), ("phone", f"+33{n:09d}")):
                items.append(
                    {
                        "Put": {
                            "TableName": main_t,
                            "Item": {
                                "pk": {"S": f"{tenant}#U#{kind}#{value}"},
                                "sk": {"S": "U"},
                                "contact_id": {"S": f"t{n:07d}"},
                            },
                            "ConditionExpression": "attribute_not_exists (#0)",
                            "ExpressionAttributeNames": {"#0": "pk"},
                        }
                    }
                )
        transactions.append(items)
    timed("contact_transactions", transactions, lambda items: ddb.transact_write_items(TransactItems=items), 4)

    def claim(cid: str) -> dict[str, Any]:
        return {
            "TableName": members_t,
            "Key": {"pk": {"S": f"{tenant}#W"}, "sk": {"S": cid}},
            "UpdateExpression": "SET #seen = :at",
            "ConditionExpression": "attribute_not_exists(#seen) OR #seen <= :at",
            "ExpressionAttributeNames": {"#seen": "seen_at"},
            "ExpressionAttributeValues": {":at": {"S": stamp}},
        }

    claims = [[{"Update": claim(cid)} for cid in chunk] for chunk in _chunks(ids[: scale * 25 // 2], 100)]
    timed("claim_transactions", claims, lambda items: ddb.transact_write_items(TransactItems=items), 2)
    lone = [claim(cid) for cid in ids[scale * 25 // 2 : scale * 25 // 2 + scale * 2]]
    timed("update_item", lone, lambda update: ddb.update_item(**update), 2, items=len(lone))

    def read_partition(_: Any) -> int:
        count, start = 0, None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = ddb.query(
                TableName=contacts_t,
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": tenant}},
                Limit=1000,
                **extra,
            )
            count += len(page["Items"])
            start = page.get("LastEvaluatedKey")
            if not start:
                return count

    written = len(batch_contacts) + len(transactions) * 0 + scale * 33 // 4
    read = timed("query", [None], read_partition, 1, items=written)
    assert read == [written], (read, written)
    keys = [{"pk": {"S": tenant}, "sk": {"S": f"b{n:07d}"}} for n in range(len(batch_contacts))]

    def batch_get(chunk: list[dict[str, Any]]) -> None:
        answer = ddb.batch_get_item(RequestItems={contacts_t: {"Keys": chunk}})
        assert len(answer["Responses"][contacts_t]) == len(chunk) and not answer["UnprocessedKeys"]

    timed("batch_get", _chunks(keys, 100), batch_get, 4, items=len(keys))
    return results


@contextmanager
def _local_moto(in_process: bool) -> Iterator[tuple[Any, dict[str, str], int | None, _Requests | None]]:
    """The local stack's moto server with the template's tables: (client, table names, the moto child's
    pid or None in process, the per-request timer in process or None); stopped on leaving."""
    import boto3
    from botocore.config import Config

    from infra import local_botocore
    from infra.local_moto import LocalMotoServer
    from infra.localstack import LOCAL_CREDENTIALS
    from infra.template_resources import create_resources, load_template

    os.environ.update(LOCAL_CREDENTIALS)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    local_botocore.install()  # the stack's functions send their requests this way
    timed = _Requests() if in_process else None
    moto = _InProcess(timed) if timed is not None else LocalMotoServer("127.0.0.1")
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        session = boto3.Session(region_name=os.environ["AWS_DEFAULT_REGION"])
        env = create_resources(session, load_template(), endpoint_url=endpoint, region=session.region_name).env()
        tables = {"contacts": env["CONTACTS_TABLE"], "main": env["MAIN_TABLE"], "memberships": env["MEMBERSHIPS_TABLE"]}
        ddb = session.client("dynamodb", endpoint_url=endpoint, config=Config(max_pool_connections=16))
        pid = None if timed is not None else moto._process.pid  # noqa: SLF001 - the child whose CPU is measured
        yield ddb, tables, pid, timed
    finally:
        moto.stop()


def measure(scale: int = 200, repeats: int = 3, in_process: bool = False) -> dict[str, Any]:
    with _local_moto(in_process) as (ddb, tables, pid, timed):
        runs = [run_kinds(ddb, tables, scale, pid, timed) for _ in range(repeats + 1)][1:]
    per_item = {
        kind: round(statistics.median(1000 * run[kind]["moto_cpu_s"] / run[kind]["items"] for run in runs), 4)
        for kind in runs[0]
    }
    answer = {"moto_cpu_ms_per_item": per_item, "runs": runs, "load": os.getloadavg()}
    if in_process:  # the median request's CPU, per item of an average request: steadier on a loaded machine
        answer["median_request_ms_per_item"] = {
            kind: round(
                statistics.median(
                    1000 * run[kind]["median_request_cpu_s"] * run[kind]["requests"] / run[kind]["items"]
                    for run in runs
                ),
                4,
            )
            for kind in runs[0]
        }
    return answer


_NUMBERS = frozenset({"age", "score", "sent_count", "clicks_count"})


def demo_contact(tenant: str, row: dict[str, str], stamp: str) -> dict[str, Any]:
    """A row of ``infra.demo.generate`` as a contact item (non-empty columns in ``fields``: numbers as
    numbers, ``subscribed`` a boolean, ``tags`` a list), about 1 KB like the demo's contacts."""
    fields: dict[str, Any] = {}
    for column, value in row.items():
        if not value or column in ("contact_id", "created_at"):
            continue
        if column in _NUMBERS:
            fields[column] = {"N": value}
        elif column == "subscribed":
            fields[column] = {"BOOL": value == "true"}
        elif column == "tags":
            fields[column] = {"L": [{"S": tag} for tag in value.split(";")]}
        else:
            fields[column] = {"S": value}
    item = contact(tenant, row["contact_id"], 0, stamp)
    item["fields"] = {"M": fields}
    item["created_at"] = {"S": row["created_at"]}
    return item


def measure_snapshot(contacts: int = 20_000, repeats: int = 3, in_process: bool = False) -> dict[str, Any]:
    """moto's CPU for the first snapshot's read of a tenant of ``contacts`` demo-like contacts: a paged
    Query of the whole partition in 1 MB pages (see module)."""
    from infra.demo import generate

    tenant, stamp = f"bench-{uuid.uuid4().hex[:8]}", "2026-12-07T01:02:03.456Z"
    rows, _ = generate(contacts)
    with _local_moto(in_process) as (ddb, tables, pid, timed):
        contacts_t = tables["contacts"]
        items = [demo_contact(tenant, row, stamp) for row in rows]

        def put(chunk: list[dict[str, Any]]) -> None:
            answer = ddb.batch_write_item(RequestItems={contacts_t: [{"PutRequest": {"Item": i}} for i in chunk]})
            assert not answer["UnprocessedItems"], answer

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, _chunks(items, 25)))
        runs = []
        for _ in range(repeats + 1):
            count, pages, start = 0, 0, None
            started_cpu, started = cpu_seconds(pid) if pid else 0.0, time.monotonic()
            if timed is not None:
                timed.kind = "snapshot"
            while True:
                page = ddb.query(
                    TableName=contacts_t,
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": tenant}},
                    **({"ExclusiveStartKey": start} if start else {}),
                )
                count, pages, start = count + len(page["Items"]), pages + 1, page.get("LastEvaluatedKey")
                if not start:
                    break
            wall = time.monotonic() - started
            if timed is not None:
                timed.kind = None
                cpu = sum(timed.seconds.pop("snapshot", []))
            else:
                cpu = cpu_seconds(pid) - started_cpu
            assert count == len(items), (count, len(items))
            runs.append({"moto_cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "items": count, "pages": pages})
    runs = runs[1:]
    return {
        "contacts": len(items),
        "bytes_per_contact": round(sum(len(json.dumps(i)) for i in items) / len(items)),
        "moto_cpu_s": statistics.median(run["moto_cpu_s"] for run in runs),
        "moto_cpu_ms_per_item": round(1000 * statistics.median(run["moto_cpu_s"] for run in runs) / len(items), 4),
        "runs": runs,
        "load": os.getloadavg(),
    }


class _InProcess:
    """The local stack's moto server (its patches, its request handler) on a thread of this process,
    each request's CPU time measured on its own thread (``time.thread_time``)."""

    def __init__(self, timed: _Requests) -> None:
        from infra.local_moto import install_patches, make_local_server

        install_patches()
        self._server = make_local_server("127.0.0.1", 0, timed.handler())

    def start(self) -> None:
        import logging
        import threading

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def get_host_and_port(self) -> tuple[str, int]:
        return self._server.server_address[:2]

    def stop(self) -> None:
        self._server.shutdown()


if __name__ == "__main__":
    in_process = "--in-process" in sys.argv
    arguments = [int(a) for a in sys.argv[1:] if not a.startswith("--")][:2]
    run = measure_snapshot if "--snapshot" in sys.argv else measure
    print(json.dumps(run(*arguments, in_process=in_process), indent=1))
