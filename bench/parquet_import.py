"""A 1,000,000-row Parquet import through the real importer, each invocation in a process of its own.

moto runs as the local stack runs it (``infra.local_moto.LocalMotoServer``: a server in a child
process, every resource created from template.yaml). The file (row groups of 100,000 rows) is put
at the job's upload key, then:

- **split**: one fresh process calls ``handle_object`` as the importer does for the S3 notification:
  the whole file read one row group at a time, validated, cut into 5,000-row chunks stored in S3 and
  queued on ImportChunksQueue;
- **chunks**: ``workers`` fresh processes play Lambda's concurrent invocations of ImportChunksQueue
  (receive one message, ``handle_chunk``, delete), until the job ends or ``max_chunks`` are written.

Each process reports its own wall time per invocation and its peak RSS (``ru_maxrss``): what one
Lambda invocation of the importer needs, set against the function's MemorySize and Timeout in
template.yaml. With ``max_chunks`` below the job's chunk count the run stops early and says so (the
job is then not ``succeeded``); the time of the whole job at Lambda's concurrency is estimated from
the measured chunks, and labelled as an estimate.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TENANT = "bench-parquet"
ROW_GROUP = 100_000
LAMBDA_CONCURRENCY = 10  # ImportChunksQueue's MaximumConcurrency in template.yaml


def parquet_file(path: Path, rows: int, row_group: int = ROW_GROUP) -> int:
    """A lead list of ``rows`` rows written in row groups; returns its size in bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetWriter(path, _schema(pa)) as writer:
        for first in range(0, rows, row_group):
            ids = range(first, min(first + row_group, rows))
            writer.write_table(
                pa.table(
                    {
                        "email": [f"lead{i}@example{i % 97}.com" for i in ids],
                        "first_name": [f"First{i}" for i in ids],
                        "last_name": [f"Last{i}" for i in ids],
                        "phone": [f"+1202{i % 10_000_000:07d}" if i % 3 else None for i in ids],
                        "city": [("Berlin", "Paris", "Oslo", "Austin")[i % 4] for i in ids],
                        "score": [i % 100 for i in ids],
                        "tags": [["vip"] if i % 2 else [] for i in ids],
                    },
                    schema=_schema(pa),
                )
            )
    return path.stat().st_size


def _schema(pa: Any) -> Any:
    return pa.schema(
        [("email", pa.string()), ("first_name", pa.string()), ("last_name", pa.string()), ("phone", pa.string()),
         ("city", pa.string()), ("score", pa.int64()), ("tags", pa.list_(pa.string()))]
    )


def parquet_import(rows: int = 1_000_000, workers: int = 2, max_chunks: int | None = None) -> dict[str, Any]:
    import boto3

    from infra.local_moto import LocalMotoServer
    from infra.template_resources import create_resources, load_template

    for name, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                        "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "1"}.items():
        os.environ.setdefault(name, value)
    moto = LocalMotoServer("127.0.0.1")
    moto.start()
    host, port = moto.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    try:
        template = load_template()
        resources = create_resources(boto3.Session(region_name="us-east-1"), template,
                                     endpoint_url=os.environ["AWS_ENDPOINT_URL"], region="us-east-1")
        os.environ.update(resources.env("ImporterFunction"))
        properties = template.resources["ImporterFunction"]["Properties"]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "leads.parquet"
            started = time.perf_counter()
            size = parquet_file(path, rows)
            file_s = time.perf_counter() - started
            job_id, bucket, key = _job_with_upload(resources, path)
        result = _run(resources, job_id, bucket, key, size, workers, max_chunks)
        result.update(rows=rows, file_bytes=size, row_groups=math.ceil(rows / ROW_GROUP), file_s=round(file_s, 1),
                      workers=workers, lambda_memory_mb=int(properties.get("MemorySize", 0)),
                      lambda_timeout_s=int(properties.get("Timeout", 0)))
        return result
    finally:
        moto.stop()


def _job_with_upload(resources: Any, path: Path) -> tuple[str, str, str]:
    import boto3
    from audience.imports.jobs import JobStore
    from audience.storage import tenants_repo

    tenants_repo.create_tenant(TENANT, "Parquet bench")
    job = JobStore(boto3.client("dynamodb"), resources.name("MainTable")).create(TENANT, "leads.parquet")
    bucket = resources.name("ImportBucket")
    boto3.client("s3").upload_file(str(path), bucket, job.upload_key)
    return job.job_id, bucket, job.upload_key


def _run(resources: Any, job_id: str, bucket: str, key: str, size: int, workers: int,
         max_chunks: int | None) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    started = time.perf_counter()
    split = context.Process(target=_split, args=(dict(os.environ), bucket, key, size, answers))
    split.start()
    split_result = answers.get()
    split.join()
    budget = context.Value("i", max_chunks if max_chunks is not None else 1 << 30)
    pool = [context.Process(target=_chunks, args=(dict(os.environ), job_id, budget, answers)) for _ in range(workers)]
    for process in pool:
        process.start()
    chunk_results = [answers.get() for _ in pool]
    for process in pool:
        process.join()
    elapsed = time.perf_counter() - started
    job = _job(resources, job_id)
    seconds = [s for worker in chunk_results for s in worker["seconds"]]
    chunks_total = int(job.get("chunks_total") or 0)
    chunk_median = statistics.median(seconds) if seconds else 0.0
    done = job.get("status") == "succeeded"
    return {
        "status": job.get("status"),
        "rows_read": job.get("rows_read"),
        "rows_processed": job.get("rows_processed"),
        "rows_imported": job.get("rows_imported"),
        "contacts_created": job.get("contacts_created"),
        "chunks_total": chunks_total,
        "chunks_written": len(seconds),
        "seconds": round(elapsed, 1),
        "rows_per_s": round(int(job.get("rows_processed") or 0) / elapsed, 1),
        "split_s": split_result["seconds"],
        "split_peak_rss_mb": split_result["peak_rss_mb"],
        "chunk_s_median": round(chunk_median, 2),
        "chunk_s_max": round(max(seconds), 2) if seconds else None,
        "chunk_peak_rss_mb": max((w["peak_rss_mb"] for w in chunk_results), default=None),
        "ended": done,
        # Lambda takes ImportChunksQueue at MaximumConcurrency 10: the split, then the chunks ten at a
        # time at the measured median (moto here serves them one core's worth at a time).
        "estimated_s_at_lambda_concurrency": round(
            split_result["seconds"] + math.ceil(chunks_total / LAMBDA_CONCURRENCY) * chunk_median, 1
        ),
    }


def _services() -> Any:
    import boto3
    from audience.imports.use_case import ImportServices
    from audience.settings import get_settings

    return ImportServices(ddb=boto3.client("dynamodb"), s3=boto3.client("s3"), settings=get_settings(),
                          sqs=boto3.client("sqs"))


def _split(env: dict[str, str], bucket: str, key: str, size: int, answers: Any) -> None:
    """One invocation for the upload's S3 notification: read, validate, cut and queue the chunks."""
    os.environ.update(env)
    from audience.imports.use_case import handle_object

    services = _services()
    started = time.perf_counter()
    handle_object(services, bucket, key, "bench", size)
    answers.put({"seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": _peak_rss_mb()})


def _chunks(env: dict[str, str], job_id: str, budget: Any, answers: Any) -> None:
    """One concurrent "Lambda" of ImportChunksQueue: receive, handle_chunk, delete, until the job ends."""
    os.environ.update(env)
    from audience.imports.use_case import handle_chunk

    services = _services()
    queue_url = services.settings.import_chunks_queue_url
    seconds: list[float] = []
    while True:
        with budget.get_lock():
            if budget.value <= 0:
                break
            budget.value -= 1
        messages = services.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=2,
                                                AttributeNames=["All"]).get("Messages", [])
        if not messages:
            with budget.get_lock():
                budget.value += 1
            if _job_over(services, job_id):
                break
            continue
        message = messages[0]
        started = time.perf_counter()
        handle_chunk(services, json.loads(message["Body"]), int(message["Attributes"]["ApproximateReceiveCount"]))
        seconds.append(time.perf_counter() - started)
        services.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    answers.put({"seconds": seconds, "peak_rss_mb": _peak_rss_mb()})


def _job_over(services: Any, job_id: str) -> bool:
    from audience.imports.jobs import JobStore

    job = JobStore(services.ddb, services.settings.main_table).get(TENANT, job_id)
    return job is None or job.status != "running"


def _job(resources: Any, job_id: str) -> dict[str, Any]:
    import boto3
    from audience.imports.jobs import JobStore

    job = JobStore(boto3.client("dynamodb"), resources.name("MainTable")).get(TENANT, job_id)
    return job.model_dump() if job is not None else {}


def _peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
    print(json.dumps(parquet_import(count, max_chunks=limit), indent=2))
