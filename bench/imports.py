"""Import throughput end to end on the local stack, beside moto's own write rates in the same run.

``import_throughput(target_bytes)`` starts the local stack in this process (moto server, front door,
the template's pollers), creates an import job over HTTP (``POST /imports``), PUTs a generated lead
list to the presigned URL and polls ``GET /imports/{id}`` until the job ends: upload to ``succeeded``,
through S3 → ImportQueue → importer (split) → ImportChunksQueue → importer (chunks). In the same
run, on the same moto server, it measures moto's raw BatchWriteItem (25 contact-sized items a call)
and conditional PutItem rates: the import's contacts/s divided into moto's BatchWriteItem items/s
says how far the importer is from writing as fast as moto can store items at all.

``python -m bench.imports [MB] [--import-only]`` (default 5 MB; ``--import-only`` skips moto's own
rates and the count of stored items, for before/after runs) also reports the CPU seconds of the
stack's process (every thread: importer, contact stream, pollers, front door) and of moto's child
process during the import.
"""

from __future__ import annotations

import io
import os
import random
import time
from typing import Any

MB = 1024 * 1024
HEADER = [
    "E-mail",
    "First Name",
    "Surname",
    "Mobile",
    "Company",
    "City",
    "Age",
    "Opt-in",
    "Tags",
    "Signed up",
]
CITIES = ["Berlin", "Paris", "Lisbon", "Oslo", "Austin", "Denver", "Zürich", "Málaga"]
POLL_SECONDS = 0.25


def lead_rows(count: int, seed: int = 7) -> list[list[Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        email = f"lead{i}@example{i % 97}.com" if i % 50 else f"broken-{i}"
        rows.append(
            [
                email,
                f"First{i}",
                f"Last{i}",
                f"(202) {200 + i % 700:03d}-{i % 10000:04d}" if i % 3 else "",
                f"Company {i % 1000}",
                rng.choice(CITIES),
                str(18 + i % 60),
                rng.choice(["yes", "no", "1", "0"]),
                rng.choice(["vip", "vip, beta", "", "trial|newsletter"]),
                f"{1 + i % 28:02d}/{1 + i % 12:02d}/2024",
            ]
        )
    return rows


def csv_bytes(target_bytes: int) -> tuple[bytes, int]:
    """A ``;``-separated CSV of at most ``target_bytes`` UTF-8 bytes, and its data row count."""
    lines = [";".join(HEADER)]
    size = len(lines[0].encode("utf-8")) + 2
    rows = lead_rows(target_bytes // 60 + 10)
    count = 0
    for row in rows:
        line = ";".join(row)
        length = len(line.encode("utf-8")) + 2
        if size + length > target_bytes:
            break
        lines.append(line)
        size += length
        count += 1
    return ("\r\n".join(lines) + "\r\n").encode("utf-8"), count


def xlsx_bytes(target_bytes: int) -> tuple[bytes, int]:
    """A workbook just under ``target_bytes``: size per row measured on a sample, then one build."""
    sample = _xlsx(lead_rows(5_000))
    per_row = len(sample) / 5_000
    count = int(target_bytes / per_row * 0.98)
    while True:
        data = _xlsx(lead_rows(count))
        if len(data) <= target_bytes:
            return data, count
        count = int(count * target_bytes / len(data) * 0.99)


def _xlsx(rows: list[list[Any]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def import_throughput(
    target_bytes: int = 5 * MB - 4096, formats: tuple[str, ...] = ("csv",), peer: bool = True
) -> dict[str, Any]:
    """One import per format on a fresh local stack, and moto's raw rates measured in between
    (``peer=False``: the imports alone, for quicker before/after comparisons)."""
    import threading

    from infra.localstack import free_port, start

    stack, server = start(free_port(), any_port=True, demo_tenant="Bench")
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    try:
        results = []
        builders = {"csv": (csv_bytes, "leads.csv"), "xlsx": (xlsx_bytes, "leads.xlsx")}
        peer_before = moto_write_rates(stack, "peer-before") if peer else None
        for label in formats:
            build, name = builders[label]
            data, rows = build(target_bytes)
            results.append(_run_one(stack, label, name, data, rows, count_items=peer))
        peer_after = moto_write_rates(stack, "peer-after") if peer else None
    finally:
        stack.stop.set()
        server.shutdown()
        stack._moto.stop()
    if peer_before is None or peer_after is None:
        return {"results": results}
    peer = {
        name: round((peer_before[name] + peer_after[name]) / 2)
        for name in ("batch_write_items_per_s", "conditional_puts_per_s")
    }
    peer.update(before=peer_before, after=peer_after)
    for item in results:
        item["moto_batch_write_items_per_s"] = peer["batch_write_items_per_s"]
        item["moto_items_per_contact_s"] = round(peer["batch_write_items_per_s"] / item["items_per_contact"], 1)
        item["ratio_to_moto"] = round(item["moto_items_per_contact_s"] / item["contacts_per_s"], 2)
    return {"results": results, "peer": peer}


def moto_write_rates(stack, tenant: str, items: int = 10_000, puts: int = 1_000) -> dict[str, Any]:
    """moto's own rates on this server: BatchWriteItem of contact-sized items, 25 a call, and
    conditional PutItem of unique-key-sized items, one a call (both single-threaded, as the importer)."""
    import boto3

    resources = stack.resources
    ddb = boto3.client("dynamodb", region_name=resources.region, endpoint_url=stack.aws_endpoint)
    contacts, main = resources.name("ContactsTable"), resources.name("MainTable")
    started = time.perf_counter()
    for first in range(0, items, 25):
        requests = [{"PutRequest": {"Item": _contact_item(tenant, i)}} for i in range(first, min(first + 25, items))]
        while requests:
            answer = ddb.batch_write_item(RequestItems={contacts: requests})
            requests = answer.get("UnprocessedItems", {}).get(contacts, [])
    batch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(puts):
        ddb.put_item(
            TableName=main,
            Item={
                "pk": {"S": f"T#{tenant}#EMAIL#p{i}@example.com"},
                "sk": {"S": "UNIQUE"},
                "contact_id": {"S": f"c{i}"},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    put_seconds = time.perf_counter() - started
    return {
        "batch_write_items_per_s": round(items / batch_seconds),
        "conditional_puts_per_s": round(puts / put_seconds),
    }


def _contact_item(tenant: str, i: int) -> dict[str, Any]:
    stamp = "2026-01-01T00:00:00.000Z"
    fields = {
        "email": {"S": f"lead{i}@example{i % 97}.com"},
        "first_name": {"S": f"First{i}"},
        "last_name": {"S": f"Last{i}"},
        "phone": {"S": f"+1202{i % 10_000_000:07d}"},
        "company": {"S": f"Company {i % 1000}"},
        "city": {"S": "Oslo"},
        "age": {"N": str(18 + i % 60)},
        "subscribed": {"BOOL": bool(i % 2)},
        "tags": {"L": [{"S": "vip"}]},
    }
    return {
        "pk": {"S": tenant},
        "sk": {"S": f"c{i}"},
        "fields": {"M": fields},
        "created_at": {"S": stamp},
        "updated_at": {"S": stamp},
        "erased": {"BOOL": False},
        "gsi1pk": {"S": tenant},
        "gsi1sk": {"S": f"{stamp}#c{i}"},
        "version": {"N": "1"},
    }


def _run_one(stack, label: str, file_name: str, data: bytes, rows: int, count_items: bool = True) -> dict[str, Any]:
    """One import, upload to ``succeeded``; ``count_items``: also count the items it stored (a scan of
    both tables, ~1 minute of moto's CPU after a 5 MB import on a loaded machine: left out of the
    ``--import-only`` runs, which compare the import's own time and CPU)."""
    import requests

    key = stack.tenants[0].api_key
    headers = {"X-Api-Key": key}
    # One client connection kept alive for the job's polls, as a browser or the console keeps one: a
    # new connection per poll made the front door serve each on a new thread, whose authorizer built
    # itself a botocore session (a session is per thread) — ~7% of the stack's CPU during an import,
    # with the client's own per-request session set-up, all of it in the measured process.
    client = requests.Session()
    moto_pid = stack._moto._process.pid
    cpu, moto_cpu = time.process_time(), _cpu_seconds(moto_pid)
    started = time.perf_counter()
    job = client.post(f"{stack.api_url}/imports", json={"file_name": file_name}, headers=headers, timeout=30)
    job.raise_for_status()
    body = job.json()
    requests.put(body["upload_url"], data=data, timeout=120).raise_for_status()
    progress: list[tuple[float, int]] = []
    while True:
        state = client.get(f"{stack.api_url}/imports/{body['job_id']}", headers=headers, timeout=30).json()
        progress.append((round(time.perf_counter() - started, 2), int(state.get("rows_processed", 0))))
        if state["status"] in ("succeeded", "failed"):
            break
        time.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - started
    cpu, moto_cpu = time.process_time() - cpu, _cpu_seconds(moto_pid) - moto_cpu
    client.close()
    if state["status"] != "succeeded":
        raise RuntimeError(f"benchmark import of {file_name} failed: {state.get('error')}")
    contacts = state["contacts_created"] + state["contacts_updated"]
    items = _items_written(stack, stack.tenants[0].tenant_id) if count_items else None
    growing = sorted({p for _, p in progress})
    return {
        "name": f"import {label} {len(data) / MB:.1f} MB (local stack, upload to succeeded)",
        "format": label,
        "bytes": len(data),
        "rows": rows,
        "rows_imported": state["rows_imported"],
        "rows_rejected": state["rows_rejected"],
        "values_dropped": state["values_dropped"],
        "contacts": contacts,
        "chunks": state.get("chunks_total"),
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed, 1),
        "contacts_per_s": round(contacts / elapsed, 1),
        "items_per_contact": round(items / max(contacts, 1), 2) if items is not None else None,
        # the stack's process (importer, contact stream, pollers, front door: every thread) and moto's
        "cpu_s": {"stack": round(cpu, 1), "moto": round(moto_cpu, 1)},
        "cpu_us_per_row": {"stack": round(cpu / rows * 1e6), "moto": round(moto_cpu / rows * 1e6)},
        "rows_processed_seen": growing[:: max(1, len(growing) // 8)] + ([growing[-1]] if growing else []),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _items_written(stack, tenant: str) -> int:
    """Contacts plus their unique-key items: what the import stored."""
    import boto3

    ddb = boto3.client("dynamodb", region_name=stack.resources.region, endpoint_url=stack.aws_endpoint)
    total = 0
    for table, expression, values in (
        (stack.resources.name("ContactsTable"), "pk = :t", {":t": {"S": tenant}}),
        (stack.resources.name("MainTable"), "begins_with(pk, :k)", {":k": {"S": f"T#{tenant}#"}}),
    ):
        kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT", "ExpressionAttributeValues": values}
        if expression.startswith("pk ="):
            kwargs["KeyConditionExpression"] = expression
            pages = ddb.get_paginator("query").paginate(**kwargs)
        else:
            kwargs["FilterExpression"] = expression + " AND sk = :u"
            kwargs["ExpressionAttributeValues"] = {**values, ":u": {"S": "UNIQUE"}}
            pages = ddb.get_paginator("scan").paginate(**kwargs)
        total += sum(page["Count"] for page in pages)
    return total


if __name__ == "__main__":
    import json
    import sys

    sizes = [a for a in sys.argv[1:] if not a.startswith("--")]
    size = float(sizes[0]) if sizes else 5.0
    print(json.dumps(import_throughput(int(size * MB) - 4096, peer="--import-only" not in sys.argv), indent=2))
