"""Exports end to end on moto: job queued on JobsQueue, run by the real exporter handler, file in the
export bucket opened with the library a user would use."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import openpyxl
import pyarrow.parquet as pq
import pytest
import requests
from audience.exports import jobs
from audience.exports.clients import Clients
from audience.exports.export import presigned_download_url
from audience.exports.request import parse_export_request
from audience.fields import DEFAULT_CATALOG
from audience.settings import get_settings
from audience.storage import jobs_repo, suppression_repo

TENANT = "t-export"  # the tenant World.segment seeds by default
PEOPLE = [
    {"contact_id": "c1", "email": "ana@example.com", "first_name": "Ana", "score": 10, "subscribed": True},
    {"contact_id": "c2", "email": "bob@example.com", "first_name": "=1+1", "score": 20},
    {"contact_id": "c3", "email": "cy@example.com", "first_name": "Cy", "subscribed": False},
    {"contact_id": "c4", "email": "di@example.com", "first_name": "Di", "sent_count": 12, "clicks_count": 0},
]


def queue_export(world, segment_id, body, tenant=TENANT):
    spec = parse_export_request(body, DEFAULT_CATALOG, default_stem="VIP buyers")
    return jobs.create_and_enqueue(
        world.sqs, world.queue_url, tenant, jobs.EXPORT, segment_id, {"spec": spec.model_dump()}
    )


def finished(job):
    return jobs_repo.get(TENANT, job.job_id)


def test_csv_export_runs_through_the_queue_and_excludes_unsubscribed(world):
    segment_id = world.segment(PEOPLE)
    job = queue_export(world, segment_id, {"format": "csv", "fields": ["contact_id", "email", "first_name"]})
    assert jobs_repo.get(TENANT, job.job_id).status == "pending"
    assert world.run_queued() == {"batchItemFailures": []}
    done = finished(job)
    assert done.status == "succeeded", done.error
    assert done.counts["row_count"] == 3 and done.counts["excluded_unsubscribed"] == 1
    raw = world.download(done)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), dialect="excel"))
    assert rows == [
        ["contact_id", "email", "first_name"],
        ["c1", "ana@example.com", "Ana"],
        ["c2", "bob@example.com", "'=1+1"],
        ["c4", "di@example.com", "Di"],
    ]
    head = world.s3.head_object(Bucket=world.bucket, Key=done.result["object_key"])
    assert done.result["object_key"] == f"tenants/{TENANT}/exports/{job.job_id}/VIP buyers.csv"
    assert head["ContentType"].startswith("text/csv")
    assert 'filename="VIP buyers.csv"' in head["ContentDisposition"]


def test_download_url_is_presigned_and_expires(world):
    segment_id = world.segment(PEOPLE[:1])
    job = queue_export(world, segment_id, {"format": "jsonl", "file_name": "one"})
    world.run_queued()
    done = finished(job)
    s3 = Clients(get_settings()).s3
    url = presigned_download_url(s3, world.bucket, done.result["object_key"], expires_in=600)
    assert "X-Amz-Expires=600" in url and "X-Amz-Signature=" in url
    assert f"tenants/{TENANT}/exports/{job.job_id}/one.jsonl" in url.replace("%2F", "/")
    assert requests.get(url, timeout=10).content == world.download(done)
    world.s3.delete_object(Bucket=world.bucket, Key=done.result["object_key"])
    assert presigned_download_url(s3, world.bucket, done.result["object_key"]) is None


def test_global_suppression_applies_unless_the_segment_opts_out(world):
    suppression_repo.put(
        TENANT, {"rules": None, "received_at_least_never_clicked": {"enabled": True, "min_received": 10}}
    )
    strict = world.segment(PEOPLE)
    relaxed = world.segment(PEOPLE, name="All incl. suppressed", ignore_suppression=True)
    first = queue_export(world, strict, {"format": "jsonl", "fields": ["contact_id"]})
    second = queue_export(world, relaxed, {"format": "jsonl", "fields": ["contact_id"]})
    world.run_queued()
    ids = [json.loads(line)["contact_id"] for line in world.download(finished(first)).splitlines()]
    assert ids == ["c1", "c2"]
    assert finished(first).counts["excluded_suppressed"] == 1
    ids = [json.loads(line)["contact_id"] for line in world.download(finished(second)).splitlines()]
    assert ids == ["c1", "c2", "c4"], "opting out keeps suppressed contacts, never unsubscribed ones"


def test_xlsx_and_parquet_exports_open_with_their_libraries(world):
    segment_id = world.segment(PEOPLE)
    xlsx = queue_export(world, segment_id, {"format": "xlsx", "fields": ["contact_id", "first_name", "score"]})
    parquet = queue_export(world, segment_id, {"format": "parquet", "fields": ["contact_id", "score"]})
    world.run_queued()
    sheet = openpyxl.load_workbook(io.BytesIO(world.download(finished(xlsx))))["Contacts"]
    assert list(sheet.iter_rows(values_only=True)) == [
        ("contact_id", "first_name", "score"),
        ("c1", "Ana", 10),
        ("c2", "'=1+1", 20),
        ("c4", "Di", None),
    ]
    table = pq.read_table(io.BytesIO(world.download(finished(parquet))))
    assert table.to_pylist() == [
        {"contact_id": "c1", "score": 10.0},
        {"contact_id": "c2", "score": 20.0},
        {"contact_id": "c4", "score": None},
    ]


def test_added_since_and_updated_since_filter_members(world):
    from audience.storage import contacts_repo, memberships_repo

    segment_id = world.segment(PEOPLE[:2])
    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    import time

    time.sleep(1.1)
    contacts_repo.upsert(TENANT, "c5", {"email": "eve@example.com"})
    memberships_repo.add_many(TENANT, segment_id, ["c5"])
    contacts_repo.upsert(TENANT, "c1", {"first_name": "Ana Maria"})
    added = queue_export(world, segment_id, {"format": "jsonl", "fields": ["contact_id"], "added_since": later})
    updated = queue_export(world, segment_id, {"format": "jsonl", "fields": ["contact_id"], "updated_since": later})
    world.run_queued()
    read = lambda job: [json.loads(x)["contact_id"] for x in world.download(finished(job)).splitlines()]  # noqa: E731
    assert read(added) == ["c5"]
    assert read(updated) == ["c1", "c5"]
    assert finished(added).counts["excluded_by_filter"] == 2


def test_redelivered_message_does_not_redo_a_succeeded_export(world):
    segment_id = world.segment(PEOPLE[:1])
    job = queue_export(world, segment_id, {"format": "csv"})
    messages = world.received()
    world.deliver(messages)
    first = finished(job)
    world.deliver(messages, receive_count=2)
    again = finished(job)
    assert again.status == "succeeded" and again.updated_at == first.updated_at
    listed = world.s3.list_objects_v2(Bucket=world.bucket, Prefix=f"tenants/{TENANT}/exports/{job.job_id}/")
    assert len(listed["Contents"]) == 1


def test_a_running_job_is_retaken_only_when_its_heartbeat_is_stale(world):
    segment_id = world.segment(PEOPLE[:1])
    job = queue_export(world, segment_id, {"format": "csv"})
    assert jobs.claim(TENANT, job.job_id) is not None  # a first runner took it, then died
    assert jobs.claim(TENANT, job.job_id) is None, "a fresh lease is not taken twice"
    later = datetime.now(UTC) + timedelta(seconds=jobs.LEASE_SECONDS + 5)
    retaken = jobs.claim(TENANT, job.job_id, now=later)
    assert retaken is not None and retaken.counts["attempts"] == 2


def test_deleted_segment_fails_the_job_with_a_reason(world):
    from audience.storage import segments_repo

    segment_id = world.segment(PEOPLE[:1])
    job = queue_export(world, segment_id, {"format": "csv"})
    segments_repo.delete(TENANT, segment_id)
    assert world.run_queued() == {"batchItemFailures": []}
    done = finished(job)
    assert done.status == "failed" and "no longer exists" in done.error


def test_internal_errors_are_retried_then_fail_the_job_on_the_last_delivery(world, monkeypatch):
    from audience.exports import contact_source

    segment_id = world.segment(PEOPLE[:1])
    job = queue_export(world, segment_id, {"format": "csv"})
    messages = world.received()

    def broken(*args, **kwargs):
        raise RuntimeError("throttled")

    monkeypatch.setattr(contact_source.contacts_repo, "get_many", broken)
    answer = world.deliver(messages, receive_count=1)
    assert answer["batchItemFailures"] == [{"itemIdentifier": messages[0]["MessageId"]}]
    assert finished(job).status == "running"
    uploads = world.s3.list_multipart_uploads(Bucket=world.bucket).get("Uploads", [])
    assert uploads == [], "a failed attempt aborts its multipart upload"
    stale = datetime.now(UTC) + timedelta(seconds=jobs.LEASE_SECONDS + 5)
    monkeypatch.setattr(jobs, "datetime", _FrozenDatetime(stale))
    assert world.deliver(messages, receive_count=3) == {"batchItemFailures": []}
    done = finished(job)
    assert done.status == "failed" and done.error and "throttled" not in done.error


class _FrozenDatetime:
    """Stands in for ``datetime`` in ``audience.exports.jobs`` so ``now`` is past the lease."""

    def __init__(self, moment):
        self.moment = moment

    def now(self, tz=None):
        return self.moment


def test_a_tenant_cannot_export_another_tenants_segment(world):
    segment_id = world.segment(PEOPLE[:1], tenant="someone-else")
    job = queue_export(world, segment_id, {"format": "csv"})
    world.run_queued()
    done = finished(job)
    assert done.status == "failed" and "no longer exists" in done.error


def test_pages_of_members_keep_membership_order_across_pages(world, monkeypatch):
    from audience.exports import contact_source

    people = [{"contact_id": f"c{i:02d}", "email": f"p{i}@example.com"} for i in range(11)]
    segment_id = world.segment(people)
    monkeypatch.setattr(contact_source, "FETCH_PAGE", 3)  # no snapshot yet: pages of BatchGets
    job = queue_export(world, segment_id, {"format": "jsonl", "fields": ["contact_id"]})
    world.run_queued()
    ids = [json.loads(line)["contact_id"] for line in world.download(finished(job)).splitlines()]
    assert ids == [f"c{i:02d}" for i in range(11)]
    assert finished(job).counts["members_read"] == 11


def test_multipart_sink_uploads_parts_of_at_least_5_mib(world):
    from audience.exports.sink import MIN_PART_SIZE, S3MultipartSink

    sink = S3MultipartSink(world.s3, world.bucket, "tenants/t/exports/j/big.bin", content_type="x/y",
                           part_size=MIN_PART_SIZE)  # fmt: skip
    chunk = bytes(range(256)) * 4096  # 1 MiB
    for _ in range(11):
        sink.write(chunk)
    assert len(sink._parts) == 2, "two full parts uploaded while writing, the rest still buffered"
    sink.complete()
    key = "tenants/t/exports/j/big.bin"
    assert world.s3.head_object(Bucket=world.bucket, Key=key, PartNumber=1)["PartsCount"] == 3
    assert world.s3.head_object(Bucket=world.bucket, Key=key)["ContentType"] == "x/y"
    body = world.s3.get_object(Bucket=world.bucket, Key=key)["Body"].read()
    assert body == chunk * 11


@pytest.mark.parametrize("receive_count", [3])
def test_max_receives_matches_the_templates_redrive_policy(receive_count):
    from functions.exporter.app import MAX_RECEIVES
    from infra.template_resources import load_template

    policy = load_template().properties("JobsQueue")["RedrivePolicy"]
    assert MAX_RECEIVES == int(policy["maxReceiveCount"]) == receive_count


@pytest.mark.parametrize("from_snapshot", [False, True])
def test_suppression_rules_on_fields_segments_and_events_exclude_matches(world, from_snapshot):
    from audience.eventlog import append_events, events_table
    from audience.storage import memberships_repo, segments_repo

    blocklist = segments_repo.create(TENANT, name="Do not contact", type="static")
    memberships_repo.add_many(TENANT, blocklist.id, ["c4"])
    now = datetime.now(UTC)
    append_events(
        TENANT,
        events_table(
            [
                ("c2", "bounced", now - timedelta(days=3), {"kind": "hard"}),
                ("c1", "bounced", now - timedelta(days=200), {"kind": "hard"}),  # too old to count
                ("c1", "bounced", now - timedelta(days=1), {"kind": "soft"}),  # not hard
            ]
        ),
        world.s3,
        "batch-1",
    )
    suppression_repo.put(
        TENANT,
        {
            "rules": {
                "any": [
                    {"field": "first_name", "op": "eq", "value": "NOBODY"},
                    {"segment": blocklist.id},
                    {
                        "event": "bounced",
                        "within_last_days": 90,
                        "where": [{"field": "kind", "op": "eq", "value": "hard"}],
                    },
                ]
            },
            "received_at_least_never_clicked": {"enabled": False, "min_received": 1},
        },
    )
    segment_id = world.segment(PEOPLE + [{"contact_id": "c5", "email": "n@example.com", "first_name": "nobody"}])
    if from_snapshot:
        from audience.evaluation import snapshots

        snapshots.build_snapshot(TENANT, world.s3)
    job = queue_export(world, segment_id, {"format": "jsonl", "fields": ["contact_id"]})
    world.run_queued()
    done = finished(job)
    assert done.status == "succeeded", done.error
    assert done.result["read_from"]["contacts"] == ("snapshot" if from_snapshot else "batch_get")
    ids = [json.loads(line)["contact_id"] for line in world.download(done).splitlines()]
    assert ids == ["c1"], "c2 bounced hard lately, c3 unsubscribed, c4 blocklisted, c5 named NOBODY"
    assert done.counts["excluded_suppressed"] == 3 and done.counts["excluded_unsubscribed"] == 1
