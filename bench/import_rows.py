"""The importer's own CPU per imported row: one chunk through the real path, DynamoDB/S3 in another process.

``python -m bench.import_rows [ROWS] [REPEATS] [--demo]`` (default 2,000 rows, 3 repeats) starts the local
stack's moto server in a child process (``infra.local_moto``, with its patches), creates the
template's resources there, and in this process imports a generated lead list (``bench.imports``'s
rows: emails, two phones in three, numbers, booleans, tags) with ``use_case.split_contacts``, one chunk:
read, validate, resolve, write, count into the job, report. This process's CPU time
(``time.process_time``, every thread) is then the importer's alone, moto's is not in it; each repeat
imports the list into a new tenant (every contact created), then again with one value changed
(every contact updated). The first repeat warms up (imports, clients) and is not reported. Prints
JSON: CPU microseconds per row of each kind, moto's CPU microseconds per row (its process, read from
``/proc``), and the wall seconds (which do include moto).

``--demo`` imports the demo's contacts instead (``infra.demo.generate``: 20 columns, a contact id,
an E.164 phone in 7 rows of 10, a ``created_at`` on every row), updated by a new score on every row:
what `make run ARGS=--demo` sends through the same importer.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any


def measure(rows: int = 2_000, repeats: int = 3, demo: bool = False) -> dict[str, Any]:
    import boto3

    from infra import local_botocore
    from infra.local_moto import LocalMotoServer
    from infra.localstack import LOCAL_CREDENTIALS

    os.environ.update(LOCAL_CREDENTIALS)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"]
    local_botocore.install()  # as the local stack's functions run
    moto = LocalMotoServer("127.0.0.1")
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        from infra.template_resources import create_resources, load_template

        session = boto3.Session(region_name=os.environ["AWS_REGION"])
        resources = create_resources(session, load_template(), endpoint_url=endpoint, region=session.region_name)
        os.environ.update(resources.env())
        return _run(session, endpoint, rows, repeats, demo, moto._process.pid)
    finally:
        moto.stop()


def _files(rows: int, demo: bool) -> tuple[bytes, bytes]:
    """The file to import and the same file with one value changed on every row."""
    if demo:
        from infra.demo import contacts_csv, generate

        contacts, _ = generate(rows)
        changed = [{**row, "score": str(int(row["score"]) + 1)} for row in contacts]
        return contacts_csv(contacts), contacts_csv(changed)
    from bench.imports import csv_bytes

    data, _ = csv_bytes(rows * 120)
    data = b"\r\n".join(data.split(b"\r\n")[: rows + 1]) + b"\r\n"
    return data, data.replace(b";First", b";Again")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(session: Any, endpoint: str, rows: int, repeats: int, demo: bool, moto_pid: int) -> dict[str, Any]:
    from audience.imports import use_case
    from audience.imports.jobs import JobStore
    from audience.imports.use_case import ImportServices
    from audience.settings import get_settings
    from audience.storage import tenants_repo

    get_settings.cache_clear()
    data, changed = _files(rows, demo)
    count = data.count(b"\r\n") - 1
    use_case.CHUNK_ROWS = max(use_case.CHUNK_ROWS, count)  # one chunk, written in this process
    services = ImportServices(
        ddb=session.client("dynamodb", endpoint_url=endpoint),
        s3=session.client("s3", endpoint_url=endpoint),
        settings=get_settings(),
        sqs=session.client("sqs", endpoint_url=endpoint),
    )
    jobs = JobStore(services.ddb, services.settings.main_table)
    runs: dict[str, list[dict[str, float]]] = {"create": [], "update": []}
    for repeat in range(repeats + 1):
        tenant = f"bench-{uuid.uuid4().hex[:8]}"
        tenants_repo.create_tenant(tenant, "Bench", default_region="US")
        for kind, body in (("create", data), ("update", changed)):
            job = jobs.create(tenant, "leads.csv")
            jobs.start(job, "bench")
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "leads.csv"
                path.write_bytes(body)
                cpu, wall, moto = time.process_time(), time.perf_counter(), _cpu_seconds(moto_pid)
                done = use_case.split_contacts(services, job, path)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                moto = _cpu_seconds(moto_pid) - moto
            if done.status != "succeeded":
                raise RuntimeError(f"the import failed: {done.error}")
            if repeat:
                runs[kind].append(
                    {"cpu_us_per_row": cpu / count * 1e6, "moto_us_per_row": moto / count * 1e6, "wall_s": wall}
                )
    return {
        "file": "demo" if demo else "leads",
        "rows": count,
        "repeats": repeats,
        **{
            kind: {
                "cpu_us_per_row_median": round(statistics.median(r["cpu_us_per_row"] for r in measured), 1),
                "cpu_us_per_row": [round(r["cpu_us_per_row"], 1) for r in measured],
                "moto_cpu_us_per_row_median": round(statistics.median(r["moto_us_per_row"] for r in measured), 1),
                "wall_s": [round(r["wall_s"], 2) for r in measured],
            }
            for kind, measured in runs.items()
        },
    }


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:] if a.isdigit()]
    print(json.dumps(measure(*arguments[:2], demo="--demo" in sys.argv), indent=2))
