"""Export throughput on moto: a segment of N members exported to CSV through the real exporter handler
(job on the template's JobsQueue, members and contacts read as the service reads them, S3 multipart
upload into the export bucket), beside floors measured in the same run on the same data.

The tenant is laid out as a running service leaves it: a snapshot of N contacts in the data bucket
(base files of ``snapshots.ROWS_PER_FILE`` sorted contacts, written with the service's own writer),
the contacts' ``updated_at`` spread over N seconds before the snapshot (so its 5-minute overlap
re-reads a few hundred), then ``changed_share`` of them changed after it (default 0.1%: one schedule
period of a quiet tenant; the full run also measures 1%), a tenth of those erased. Two segments hold
every contact:

- dynamic: its last run's membership Parquet (``evaluation.state``) and ``member_count``, as a run
  writes them: the export's members come from S3;
- static (``with_static``): N membership items, read with the projected Query.

``table="all"`` also puts every contact into ContactsTable (as the service would hold them; moto then
scans them all for each GSI query, where DynamoDB reads only the index range); ``table="changed"``
only the contacts changed since the snapshot — what the export's patch query reads (used at 1M, where
a million moto items would take ~3 GB of memory on a shared machine).

moto runs with the local stack's patches (``infra.local_moto.install_patches``): the target is the
local stack's rate, and unpatched moto spends most of a changed-contacts Query serializing its answer.

Figures per export: rows, seconds, rows/s, peak RSS above the process's resident size before it, and
ratios to (a) ``floor_read_s``: a plain pyarrow read of the same columns of the same snapshot files
from moto S3, (b) ``floor_csv_s``: that read plus ``pyarrow.csv.write_csv`` of it (no filtering,
no formula guard, no upload). ``batch_get_rows_per_s``: the previous design's contact reads (BatchGet
of 100 keys, 10 concurrent) on the same moto, over 2,000 changed contacts: what exporting by BatchGet
would cost per member here.
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

FIELDS = ["contact_id", "email", "phone", "first_name", "last_name", "city", "score", "tags", "created_at"]
CITIES = ["Berlin", "Paris", "Lisbon", "Oslo", "Austin", "Denver", "Zürich", "Málaga"]
TENANT = "bench-exports"
CHANGED_SHARE = 0.001  # contacts changed since the snapshot (one schedule period), of which ...
ERASED_SHARE = 0.1  # ... this share erased
SNAPSHOT_AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def export_benchmark(members: int = 200_000, formats: tuple[str, ...] = ("csv",), *, table: str = "all",
                     with_static: bool = True, changed_share: float = CHANGED_SHARE) -> list[dict[str, Any]]:
    """Lay out a tenant of ``members`` contacts on a fresh moto and export its segments."""
    from bench.template_moto import template_moto
    from infra.local_moto import install_patches

    install_patches()  # moto as the local stack runs it (infra/local_moto.py)
    results = []
    with template_moto() as resources:
        started = time.perf_counter()
        world = _seed(resources, members, table=table, with_static=with_static, changed_share=changed_share)
        seed_s = time.perf_counter() - started
        from audience.storage import segments_repo

        # Warm-up on an empty segment: botocore loads its service models (~50 MB) once per process;
        # that is not the export's memory, so it must not count in the measured peak.
        empty = segments_repo.create(TENANT, name="Warm-up", type="static")
        for export_format in formats:
            _export_once(resources, empty.id, export_format, 0, "warm-up")
        floors = _floors(world)
        batch_get = _batch_get_rate(world["changed"][:2_000])
        segments = [("dynamic", world["dynamic"])] + ([("static", world["static"])] if with_static else [])
        for kind, segment_id in segments:
            for export_format in formats:
                result = _export_once(resources, segment_id, export_format, members, kind)
                result["name"] += f", {changed_share:.1%} changed since the snapshot, table={table}"
                result.update(floors, seed_s=round(seed_s, 1), table=table, batch_get_rows_per_s=batch_get,
                              changed_since_snapshot=len(world["changed"]) + world["erased"])
                result["vs_floor_read"] = round(result["seconds"] / floors["floor_read_s"], 2)
                result["vs_floor_csv"] = round(result["seconds"] / floors["floor_csv_s"], 2)
                result["vs_batch_get"] = round(result["rows_per_s"] / batch_get, 1) if batch_get else None
                results.append(result)
    return results


# -- the tenant ------------------------------------------------------------------------------------


def _contact(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "email": f"lead{i}@example{i % 97}.com",
        "phone": f"+1202555{i % 10000:04d}",
        "first_name": f"First{i}",
        "last_name": "=cmd|' /C calc'!A0" if i % 1000 == 0 else f"Last{i}",
        "city": rng.choice(CITIES),
        "score": i % 100,
        "tags": ["vip", "newsletter"] if i % 3 else [],
        "subscribed": i % 50 != 0,
    }


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seed(resources, members: int, *, table: str, with_static: bool, changed_share: float) -> dict[str, Any]:
    """The snapshot, the membership state, and the DynamoDB items the scenario needs (module docstring)."""
    import boto3
    import pyarrow as pa
    from audience.evaluation import snapshots, state
    from audience.fields import DEFAULT_CATALOG
    from audience.settings import get_settings
    from audience.storage import segments_repo
    from audience.storage.records import Contact
    from boto3.dynamodb.types import TypeSerializer
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    settings = get_settings()
    s3 = boto3.client("s3", region_name=resources.region)
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][resources.region]
    serialise = TypeSerializer().serialize
    rng = random.Random(11)
    first = SNAPSHOT_AT - timedelta(seconds=members)
    ids = [f"c{i:08d}" for i in range(members)]
    changed = rng.sample(range(members), int(members * changed_share))
    erased = set(rng.sample(changed, int(len(changed) * ERASED_SHARE)))

    def put_contact(i: int, fields: dict[str, Any], updated: str, *, gone: bool = False) -> None:
        item = {"pk": TENANT, "sk": ids[i], "fields": {} if gone else fields, "created_at": _stamp(first),
                "updated_at": updated, "erased": gone, "gsi1pk": TENANT, "gsi1sk": f"{updated}#{ids[i]}",
                "version": 2 if gone else 1}
        backend.put_item(settings.contacts_table, {k: serialise(_dynamo(v)) for k, v in item.items()})

    # the snapshot: the service's own base-file writer, ROWS_PER_FILE sorted contacts per file
    folder = f"{snapshots.snapshots_prefix(TENANT)}bench/"
    manifest = snapshots.Manifest(snapshot_id="bench", tenant_id=TENANT, created_at=SNAPSHOT_AT.isoformat(),
                                  watermark=_stamp(first + timedelta(seconds=members - 1)),
                                  fields={n: t.value for n, t in DEFAULT_CATALOG.fields.items()})
    for start in range(0, members, snapshots.ROWS_PER_FILE):
        chunk = []
        for i in range(start, min(start + snapshots.ROWS_PER_FILE, members)):
            fields = _contact(i, rng)
            updated = _stamp(first + timedelta(seconds=i))
            chunk.append(Contact(contact_id=ids[i], fields=fields, created_at=_stamp(first), updated_at=updated,
                                 version=1))
            if table == "all":
                put_contact(i, fields, updated)
        batch = snapshots.contacts_batch(chunk, DEFAULT_CATALOG)
        snapshots._write_base(s3, settings.data_bucket, folder, pa.Table.from_batches([batch]), manifest)  # noqa: SLF001
        del chunk, batch
    manifest.contact_count = members
    s3.put_object(Bucket=settings.data_bucket, Key=folder + "manifest.json",
                  Body=json.dumps(asdict(manifest)).encode())
    s3.put_object(Bucket=settings.data_bucket, Key=snapshots.snapshots_prefix(TENANT) + "LATEST",
                  Body=b'{"snapshot_id": "bench"}')

    # after the snapshot: changed_share of the contacts changed, a tenth of those erased
    after = SNAPSHOT_AT + timedelta(minutes=10)
    for n, i in enumerate(sorted(changed)):
        updated = _stamp(after + timedelta(milliseconds=n))
        if i in erased:
            put_contact(i, {}, updated, gone=True)
        else:
            put_contact(i, {**_contact(i, rng), "first_name": f"Changed{i}"}, updated)

    dynamic = segments_repo.create(TENANT, name="Everyone (dynamic)", type="dynamic",
                                   rules={"field": "score", "op": "gte", "value": 0})
    state.write_state(TENANT, dynamic.id, pa.array(ids, pa.string()), s3, settings.data_bucket,
                      cut=manifest.watermark)
    segments_repo.record_evaluation(TENANT, dynamic.id, member_count=members - len(erased),
                                    evaluated_at=_stamp(SNAPSHOT_AT))
    static_id = None
    if with_static:
        static = segments_repo.create(TENANT, name="Everyone (list)", type="static")
        for i in range(members):
            if i in erased:
                continue
            membership = {"pk": f"{TENANT}#{static.id}", "sk": ids[i], "gsi1pk": f"{TENANT}#{ids[i]}",
                          "gsi1sk": static.id, "source": "static", "added_at": _stamp(first)}
            backend.put_item(settings.memberships_table, {k: serialise(v) for k, v in membership.items()})
        static_id = static.id
    return {"dynamic": dynamic.id, "static": static_id, "manifest": manifest, "s3": s3,
            "bucket": settings.data_bucket, "changed": [ids[i] for i in sorted(changed) if i not in erased],
            "erased": len(erased)}


def _dynamo(value: Any) -> Any:
    from audience.storage.attributes import to_dynamo

    return to_dynamo(value)


# -- floors ----------------------------------------------------------------------------------------


def _floors(world: dict[str, Any]) -> dict[str, float]:
    """A plain pyarrow read of the export's columns from the snapshot's files, and that plus a CSV write."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    s3, bucket, files = world["s3"], world["bucket"], world["manifest"].files
    columns = list(FIELDS)

    def read(entry):
        body = s3.get_object(Bucket=bucket, Key=entry["key"])["Body"].read()
        return pq.read_table(io.BytesIO(body), columns=columns)

    started = time.perf_counter()
    for entry in files:
        read(entry)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    for entry in files:
        table = read(entry)
        table = table.set_column(columns.index("tags"), "tags", _joined(table.column("tags")))
        pacsv.write_csv(table, io.BytesIO())
    csv_s = time.perf_counter() - started
    return {"floor_read_s": round(read_s, 3), "floor_csv_s": round(csv_s, 3)}


def _joined(tags):
    import pyarrow.compute as pc

    return pc.binary_join(tags, ", ")


def _batch_get_rate(ids: list[str]) -> float:
    """Contacts per second read the previous way: BatchGets of 100 keys, 10 at a time."""
    from audience.storage import contacts_repo

    if not ids:
        return 0.0
    chunks = [ids[i:i + 100] for i in range(0, len(ids), 100)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=10) as pool:
        found = sum(len(part) for part in pool.map(lambda chunk: contacts_repo.get_many(TENANT, chunk), chunks))
    return round(found / (time.perf_counter() - started), 1)


# -- one export through the handler -------------------------------------------------------------


def _export_once(resources, segment_id: str, export_format: str, members: int, kind: str) -> dict[str, Any]:
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
        "name": f"export {export_format} {members:,} members ({kind})",
        "format": export_format,
        "segment": kind,
        "members": members,
        "rows": rows,
        "read_from": done.result.get("read_from"),
        "missing_contacts": int(done.counts.get("missing_contacts", 0)),
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
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    chosen = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("csv",)
    rows_in_table = sys.argv[3] if len(sys.argv) > 3 else "all"
    share = float(sys.argv[4]) if len(sys.argv) > 4 else CHANGED_SHARE
    print(json.dumps(export_benchmark(count, chosen, table=rows_in_table, with_static=rows_in_table == "all",
                                      changed_share=share), indent=2))
