"""Export throughput and memory on moto: a segment of N members exported through the real
exporter handler (job on the template's JobsQueue, S3 multipart upload into the export bucket).

``export_benchmark(members=200_000, formats=("csv",))`` returns one result per format: rows,
seconds, rows/s, and ``peak_rss_mb`` — how far the process's resident memory rose above where it
stood before the export (moto's own in-memory tables, and botocore's service models loaded by a
warm-up export of an empty segment, are already there). That number stays flat
as ``members`` grows; rows/s is bound by in-process moto (serialising every BatchGet answer), not
by the exporter. The data is seeded straight into moto's backend so seeding 200k contacts takes
seconds rather than many minutes of BatchWriteItem calls.
"""

from __future__ import annotations

import os
import random
import resource
import time
from typing import Any

FIELDS = ["contact_id", "email", "phone", "first_name", "last_name", "city", "score", "tags", "created_at"]
CITIES = ["Berlin", "Paris", "Lisbon", "Oslo", "Austin", "Denver", "Zürich", "Málaga"]
TENANT = "bench-exports"


def export_benchmark(members: int = 200_000, formats: tuple[str, ...] = ("csv",)) -> list[dict[str, Any]]:
    """Seed one segment of ``members`` contacts on a fresh moto, export it once per format."""
    import boto3
    from moto import mock_aws

    from infra.template_resources import create_resources, load_template, plan_resources

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    planned = plan_resources(load_template())
    os.environ.update(planned.env())
    from audience.settings import get_settings

    results = []
    with mock_aws():
        get_settings.cache_clear()
        resources = create_resources(boto3.Session(region_name=planned.region))
        os.environ.update(resources.env())
        get_settings.cache_clear()
        segment_id = _seed(resources, members)
        # Warm-up on an empty segment: botocore loads its service models (~50 MB) once per process;
        # that is not the export's memory, so it must not count in the measured peak.
        from audience.storage import segments_repo

        empty = segments_repo.create(TENANT, name="Warm-up", type="static")
        for export_format in formats:
            _export_once(resources, empty.id, export_format, 0)
        for export_format in formats:
            results.append(_export_once(resources, segment_id, export_format, members))
    get_settings.cache_clear()
    return results


def _seed(resources, members: int) -> str:
    """Contacts and memberships written into moto's DynamoDB backend directly (no HTTP round trips)."""
    from audience.settings import get_settings
    from audience.storage import segments_repo
    from boto3.dynamodb.types import TypeSerializer
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    settings = get_settings()
    segment = segments_repo.create(TENANT, name="Benchmark audience", type="static")
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][resources.region]
    serialise = TypeSerializer().serialize
    rng = random.Random(11)
    stamp = "2025-06-01T12:00:00.000Z"
    for i in range(members):
        contact_id = f"c{i:08d}"
        fields = {
            "email": f"lead{i}@example{i % 97}.com",
            "phone": f"+1202555{i % 10000:04d}",
            "first_name": f"First{i}",
            "last_name": "=cmd|' /C calc'!A0" if i % 1000 == 0 else f"Last{i}",
            "city": rng.choice(CITIES),
            "score": i % 100,
            "tags": ["vip", "newsletter"] if i % 3 else [],
            "subscribed": i % 50 != 0,
        }
        contact = {
            "pk": TENANT, "sk": contact_id, "fields": fields, "created_at": stamp, "updated_at": stamp,
            "erased": False, "gsi1pk": TENANT, "gsi1sk": f"{stamp}#{contact_id}", "version": 1,
        }  # fmt: skip
        membership = {
            "pk": f"{TENANT}#{segment.id}", "sk": contact_id, "gsi1pk": f"{TENANT}#{contact_id}",
            "gsi1sk": segment.id, "source": "static", "added_at": stamp,
        }  # fmt: skip
        backend.put_item(settings.contacts_table, {k: serialise(_dynamo(v)) for k, v in contact.items()})
        backend.put_item(settings.memberships_table, {k: serialise(v) for k, v in membership.items()})
    return segment.id


def _dynamo(value: Any) -> Any:
    from audience.storage.attributes import to_dynamo

    return to_dynamo(value)


def _export_once(resources, segment_id: str, export_format: str, members: int) -> dict[str, Any]:
    import boto3
    from audience.exports import jobs
    from audience.exports.request import parse_export_request
    from audience.fields import DEFAULT_CATALOG
    from audience.settings import get_settings
    from audience.storage import jobs_repo

    from functions.exporter.app import lambda_handler

    settings = get_settings()
    sqs = boto3.client("sqs", region_name=resources.region)
    spec = parse_export_request({"format": export_format, "fields": FIELDS}, DEFAULT_CATALOG)
    job = jobs.create_and_enqueue(
        sqs, settings.jobs_queue_url, TENANT, jobs.EXPORT, segment_id, {"spec": spec.model_dump()}
    )
    messages = sqs.receive_message(QueueUrl=settings.jobs_queue_url, MaxNumberOfMessages=1)["Messages"]
    event = {
        "Records": [
            {
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                "eventSourceARN": resources.arn("JobsQueue"), "awsRegion": resources.region,
            }
            for m in messages
        ]
    }  # fmt: skip
    rss_before = _current_rss_mb()
    peak_before = _peak_rss_mb()
    started = time.perf_counter()
    outcome = lambda_handler(event, _Context())
    elapsed = time.perf_counter() - started
    peak_after = _peak_rss_mb()
    sqs.delete_message(QueueUrl=settings.jobs_queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
    done = jobs_repo.get(TENANT, job.job_id)
    if outcome["batchItemFailures"] or done.status != "succeeded":
        raise RuntimeError(f"benchmark export ({export_format}) failed: {done.error or outcome}")
    rows = int(done.counts["row_count"])
    return {
        "name": f"export {export_format} {members:,} members",
        "format": export_format,
        "members": members,
        "rows": rows,
        "bytes": int(done.counts.get("bytes", 0)),
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed, 1) if elapsed else 0.0,
        # The export's own high-water mark above the process's resident size before it started.
        "peak_rss_mb": round(max(peak_after - max(rss_before, 0.0), 0.0), 1),
        "rss_before_mb": round(rss_before, 1),
        "peak_before_mb": round(peak_before, 1),
    }


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


class _Context:
    function_name = "exporter"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:exporter"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


if __name__ == "__main__":
    import json
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    chosen = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("csv",)
    print(json.dumps(export_benchmark(count, chosen), indent=2))
