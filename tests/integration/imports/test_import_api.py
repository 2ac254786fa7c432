"""POST /imports, GET /imports/{id} and POST /events through the API handler, and the whole import
path on moto: presigned upload -> S3 notification on the template's ImportQueue -> importer."""

from __future__ import annotations

import json

import boto3
import pytest
import requests
from audience.eventlog import read_events
from audience.settings import get_settings
from audience.storage import contacts_repo, segments_repo, tenants_repo

from tests.integration.imports.api_events import call_api
from tests.integration.imports.helpers import LambdaContext

TENANT = "acme"


@pytest.fixture
def tenant(aws, monkeypatch):
    monkeypatch.setenv("IMPORT_WRITER_THREADS", "1")  # in-process moto: see contact_writer.writer_threads
    tenants_repo.create_tenant(TENANT, "Acme", default_region="DE")
    tenants_repo.create_tenant("rival", "Rival")
    return TENANT


def deliver_import_queue(aws) -> dict:
    """Drain the template's ImportQueue (filled by the bucket's own notification) into the importer."""
    from functions.importer.app import lambda_handler

    sqs = boto3.client("sqs", region_name=aws.region)
    url = aws.queue_url("ImportQueue")
    records = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            break
        for m in messages:
            records.append(
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": aws.arn("ImportQueue"),
                    "awsRegion": aws.region,
                }
            )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return lambda_handler({"Records": records}, LambdaContext())


def test_import_end_to_end_through_presigned_upload_and_the_import_queue(aws, tenant):
    segment = segments_repo.create(TENANT, name="Fair leads", type="static")
    status, created = call_api(
        "POST",
        "/imports",
        {"file_name": "fair leads.csv", "segment_id": segment.id, "mapping": {"Handy": "phone"}},
    )
    assert status == 201, created
    assert created["status"] == "pending"
    body = "Email;Handy;Vorname\nmax@example.de;0151 12345678;Max\nkaputt;;Eva\n".encode("cp1252")
    put = requests.put(created["upload_url"], data=body, timeout=10)
    assert put.status_code == 200
    result = deliver_import_queue(aws)
    assert result == {"batchItemFailures": []}
    status, job = call_api("GET", f"/imports/{created['job_id']}")
    assert status == 200
    assert job["status"] == "succeeded", job
    assert (job["rows_read"], job["rows_imported"], job["rows_rejected"]) == (2, 1, 1)
    [contact] = list(contacts_repo.iter_all(TENANT))
    assert contact.fields["phone"] == "+4915112345678"  # the tenant's default region is DE
    assert contacts_repo.owner_of(TENANT, "email", "max@example.de") == contact.contact_id
    report = requests.get(job["report_url"], timeout=10)
    assert report.status_code == 200
    assert "Vorname" in report.content.decode("utf-8-sig")  # the unknown column is reported
    assert ",kaputt," in report.content.decode("utf-8-sig")
    assert segments_repo.get(TENANT, segment.id).member_count == 1


def test_post_imports_validates_every_field_with_its_path(tenant):
    segments_repo.create(
        TENANT, name="Dyn", type="dynamic", rules={"field": "age", "op": "gt", "value": 1}, segment_id="dyn"
    )
    status, body = call_api(
        "POST",
        "/imports",
        {
            "file_name": "../x.exe",
            "segment_id": "dyn",
            "mapping": {"A": "no_such_field"},
            "default_region": "XX",
        },
    )
    assert status == 422
    paths = {d["path"] for d in body["error"]["details"]}
    assert "/default_region" in paths
    status, body = call_api("POST", "/imports", {"file_name": "a/b.exe", "segment_id": "dyn", "mapping": {"A": "nope"}})
    assert status == 422
    assert {d["path"] for d in body["error"]["details"]} == {"/file_name", "/mapping/A", "/segment_id"}


def test_malformed_json_is_400_and_read_only_keys_cannot_import(tenant):
    status, _ = call_api("POST", "/imports", "{not json")
    assert status == 400
    status, _ = call_api("POST", "/imports", {"file_name": "a.csv"}, scopes="read")
    assert status == 403


def test_another_tenants_job_is_not_found(tenant):
    status, created = call_api("POST", "/imports", {"file_name": "a.xlsx"}, tenant="rival")
    assert status == 201
    assert f"tenants/rival/imports/{created['job_id']}/a.xlsx" in requests.utils.unquote(created["upload_url"])
    status, body = call_api("GET", f"/imports/{created['job_id']}")
    assert status == 404 and body["error"]["code"] == "not_found"


def test_post_events_lands_in_the_event_log_via_the_importer(aws, tenant):
    events = [
        {
            "contact_id": "c1",
            "event": "purchase",
            "occurred_at": "2025-03-01T10:00:00+01:00",
            "properties": {"amount": 12.5},
        },
        {"contact_id": "c2", "event": "open", "occurred_at": "2025-03-02T08:00:00Z"},
    ]
    status, body = call_api("POST", "/events", {"events": events})
    assert status == 202 and body["accepted"] == 2
    assert deliver_import_queue(aws) == {"batchItemFailures": []}
    s3 = boto3.client("s3", region_name=aws.region)
    log = read_events(TENANT, s3)
    assert sorted(log["contact_id"].to_pylist()) == ["c1", "c2"]
    rows = {r["contact_id"]: r for r in log.to_pylist()}
    assert rows["c1"]["properties"] == [("amount", "12.5")]
    assert rows["c1"]["occurred_at"].isoformat() == "2025-03-01T09:00:00+00:00"
    assert read_events("rival", s3).num_rows == 0


def test_post_events_rejects_bad_batches_with_paths(tenant):
    status, body = call_api("POST", "/events", {"events": [{"contact_id": "c1", "event": "x", "occurred_at": "later"}]})
    assert status == 422
    assert body["error"]["details"][0]["path"] == "/events/0/occurred_at"
    too_many = [{"contact_id": "c", "event": "x", "occurred_at": "2025-01-01T00:00:00Z"}] * 501
    status, body = call_api("POST", "/events", {"events": too_many})
    assert status == 422


def test_event_file_redelivered_is_appended_once(aws, tenant):
    s3 = boto3.client("s3", region_name=aws.region)
    bucket = get_settings().import_bucket
    lines = "\n".join(
        json.dumps({"contact_id": f"c{i}", "event": "click", "occurred_at": f"2025-03-0{1 + i % 3}T00:00:00Z"})
        for i in range(9)
    )
    s3.put_object(Bucket=bucket, Key=f"tenants/{TENANT}/events/clicks.jsonl", Body=lines.encode())
    notifications = boto3.client("sqs", region_name=aws.region).receive_message(
        QueueUrl=aws.queue_url("ImportQueue"), MaxNumberOfMessages=10
    )["Messages"]
    from functions.importer.app import lambda_handler

    record = {
        "messageId": "m1",
        "receiptHandle": "r",
        "body": notifications[-1]["Body"],
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": aws.arn("ImportQueue"),
        "awsRegion": aws.region,
    }
    lambda_handler({"Records": [record]}, LambdaContext())
    lambda_handler({"Records": [record]}, LambdaContext())
    log = read_events(TENANT, s3)
    assert log.num_rows == 9
    from datetime import UTC, datetime

    assert read_events(TENANT, s3, since=datetime(2025, 3, 2, tzinfo=UTC)).num_rows == 6


def test_import_routes_reuse_the_containers_clients_across_requests(tenant, monkeypatch):
    status, created = call_api("POST", "/imports", {"file_name": "a.csv"})  # the container's first: builds them
    assert status == 201
    built: list[str] = []
    real = boto3.client

    def counting(name, *args, **kwargs):
        built.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(boto3, "client", counting)
    for _ in range(3):
        status, job = call_api("GET", f"/imports/{created['job_id']}")
        assert status == 200 and job["status"] == "pending"
    status, other = call_api("POST", "/imports", {"file_name": "b.csv"}, tenant="rival")
    assert status == 201
    assert built == []  # no client built per request
    # the shared clients keep tenants apart: the tenant is in the key, not in the client
    assert f"tenants/rival/imports/{other['job_id']}/b.csv" in requests.utils.unquote(other["upload_url"])
    status, _ = call_api("GET", f"/imports/{other['job_id']}")
    assert status == 404
