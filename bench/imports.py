"""Import throughput end to end on moto: a generated CSV and XLSX uploaded for a job, the S3
notification taken off the template's ImportQueue, the real importer handler run on it.

``import_throughput(target_bytes)`` returns one result per format: rows, seconds, rows/s. The
files are realistic lead lists (aliased headers, mixed phones, tags, a few bad rows).
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
    lines = [";".join(HEADER)]
    size = len(lines[0]) + 2
    rows = lead_rows(target_bytes // 60 + 10)
    count = 0
    for row in rows:
        line = ";".join(row)
        if size + len(line) + 2 > target_bytes:
            break
        lines.append(line)
        size += len(line) + 2
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
    target_bytes: int = 5 * MB - 4096, formats: tuple[str, ...] = ("csv", "xlsx")
) -> list[dict[str, Any]]:
    """rows/s for one CSV and one XLSX of about ``target_bytes`` each, on a fresh in-process moto.

    On in-process moto every conditional PutItem costs ~1 ms (a new contact takes one per new
    email/phone key plus its versioned save), so expect ~200-300 rows/s: a 5 MB CSV (~53k new
    contacts) takes ~4 minutes and the 5 MB XLSX after it (~87k rows, the first ~52k the CSV's
    people unchanged, which are not written again) ~6. Smaller sizes scale linearly.
    """
    import boto3
    from moto import mock_aws

    from infra.template_resources import create_resources, load_template, plan_resources

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ["IMPORT_WRITER_THREADS"] = "1"  # in-process moto cannot take concurrent transactions
    planned = plan_resources(load_template())
    os.environ.update(planned.env())
    from audience.settings import get_settings

    results = []
    with mock_aws():
        get_settings.cache_clear()
        resources = create_resources(boto3.Session(region_name=planned.region))
        os.environ.update(resources.env())
        get_settings.cache_clear()
        from audience.storage import tenants_repo

        tenants_repo.create_tenant("bench", "Bench", default_region="US")
        for label, build, name in (("csv", csv_bytes, "leads.csv"), ("xlsx", xlsx_bytes, "leads.xlsx")):
            if label not in formats:
                continue
            data, rows = build(target_bytes)
            results.append(_run_one(resources, label, name, data, rows))
    get_settings.cache_clear()
    return results


def _run_one(resources, label: str, file_name: str, data: bytes, rows: int) -> dict[str, Any]:
    import boto3
    from audience.imports.jobs import JobStore
    from audience.settings import get_settings

    from functions.importer.app import lambda_handler

    settings = get_settings()
    s3 = boto3.client("s3", region_name=resources.region)
    sqs = boto3.client("sqs", region_name=resources.region)
    job = JobStore(boto3.client("dynamodb", region_name=resources.region), settings.main_table).create(
        "bench", file_name
    )
    started = time.perf_counter()
    s3.put_object(Bucket=settings.import_bucket, Key=job.upload_key, Body=data)
    messages = sqs.receive_message(QueueUrl=resources.queue_url("ImportQueue"), MaxNumberOfMessages=10)["Messages"]
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": resources.arn("ImportQueue"),
                "awsRegion": resources.region,
            }
            for m in messages
        ]
    }
    outcome = lambda_handler(event, _Context())
    elapsed = time.perf_counter() - started
    for m in messages:
        sqs.delete_message(QueueUrl=resources.queue_url("ImportQueue"), ReceiptHandle=m["ReceiptHandle"])
    done = JobStore(boto3.client("dynamodb", region_name=resources.region), settings.main_table).get(
        "bench", job.job_id
    )
    if outcome["batchItemFailures"] or done is None or done.status != "succeeded":
        raise RuntimeError(f"benchmark import of {file_name} failed: {done.error if done else outcome}")
    return {
        "name": f"import {label} {len(data) / MB:.1f} MB",
        "format": label,
        "bytes": len(data),
        "rows": rows,
        "rows_imported": done.rows_imported,
        "rows_rejected": done.rows_rejected,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed, 1),
    }


class _Context:
    function_name = "importer"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:importer"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


if __name__ == "__main__":
    import json
    import sys

    size = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    print(json.dumps(import_throughput(int(size * MB) - 4096), indent=2))
