"""Export, mass-update and reset-score jobs through the real api handler and the real exporter
handler on the template's moto resources: 202 + job id, validation paths, tenant isolation, the
job status shape while pending and when done, the download URL, and the reset-score audit record."""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests
from audience.bulk import audit
from audience.storage import contacts_repo, memberships_repo, segments_repo

A, B = "acme", "globex"


@pytest.fixture
def call(api_call):
    def as_tenant(method, path, tenant=A, **kwargs):
        return api_call(method, path, tenant=tenant, **kwargs)

    return as_tenant


@pytest.fixture
def segment(aws):
    seg = segments_repo.create(A, name="Spring leads", type="static")
    people = [
        ("c1", {"email": "ana@example.com", "first_name": "Ana", "score": 40, "stage": "lead"}),
        ("c2", {"email": "bob@example.com", "first_name": "@bob", "score": 55, "stage": "lead"}),
        ("c3", {"email": "cy@example.com", "first_name": "Cy", "score": 70, "stage": "mql"}),
    ]
    for contact_id, fields in people:
        contacts_repo.upsert(A, contact_id, fields)
    contacts_repo.upsert(A, "outsider", {"email": "out@example.com", "score": 99})
    memberships_repo.add_many(A, seg.id, ["c1", "c2", "c3"])
    return seg.id


@pytest.fixture
def empty_segment(aws):
    return segments_repo.create(A, name="Empty", type="static").id


def run_exporter(aws, sqs):
    from functions.exporter.app import lambda_handler

    queue_url = aws.queue_url("JobsQueue")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": aws.arn("JobsQueue"),
            "awsRegion": aws.region,
        }
        for m in messages.get("Messages", [])
    ]

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "exporter", 3008, "r"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:exporter"

    return lambda_handler({"Records": records}, Context()), len(records)


def test_export_is_queued_then_downloadable_from_a_presigned_url(call, segment, aws, sqs):
    created = call(
        "POST", f"/segments/{segment}/exports", body={"format": "csv", "fields": ["email", "first_name"]}
    )
    assert created.status == 202, created.text
    assert set(created.json) == {"job_id", "status"} and created.json["status"] == "pending"
    job_id = created.json["job_id"]
    pending = call("GET", f"/exports/{job_id}").json
    assert pending["status"] == "pending" and pending["download_url"] is None and pending["row_count"] == 0
    answer, delivered = run_exporter(aws, sqs)
    assert delivered == 1 and answer == {"batchItemFailures": []}
    done = call("GET", f"/exports/{job_id}")
    assert done.status == 200
    body = done.json
    assert (
        body["status"] == "succeeded" and body["row_count"] == 3 and body["file_name"] == "Spring leads.csv"
    )
    assert body["download_url_expires_at"] and "X-Amz-Expires=3600" in body["download_url"]
    content = requests.get(body["download_url"], timeout=10).content
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""), dialect="excel"))
    assert rows == [["email", "first_name"], ["ana@example.com", "Ana"], ["bob@example.com", "'@bob"],
                    ["cy@example.com", "Cy"]]  # fmt: skip
    assert call("GET", f"/jobs/{job_id}").json["download_url"]


BAD_EXPORTS = [
    ({"format": "docx"}, ["/format"]),
    ({"format": "csv", "fields": ["email", "shoe_size"]}, ["/fields/1"]),
    ({"format": "audience_sha256", "fields": ["score"]}, ["/fields/0"]),
    ({"format": "csv", "added_since": "yesterday"}, ["/added_since"]),
]


def test_bad_export_requests_are_422_with_paths_and_queue_nothing(call, empty_segment, aws, sqs):
    for body, paths in BAD_EXPORTS:
        response = call("POST", f"/segments/{empty_segment}/exports", body=body)
        assert (response.status, response.paths()) == (422, paths), body
    assert "Messages" not in sqs.receive_message(QueueUrl=aws.queue_url("JobsQueue"))


def test_another_tenants_segment_and_job_are_404(call, segment, aws, sqs):
    assert call("POST", f"/segments/{segment}/exports", tenant=B, body={"format": "csv"}).status == 404
    job_id = call("POST", f"/segments/{segment}/exports", body={"format": "csv"}).json["job_id"]
    assert call("GET", f"/exports/{job_id}", tenant=B).status == 404
    assert call("GET", f"/jobs/{job_id}", tenant=B).status == 404
    assert call("GET", "/exports/nope").status == 404


def test_mass_update_sets_fields_on_members_only(call, segment, aws, sqs):
    body = {"set": {"stage": "customer", "tags": ["spring"], "expected_purchase_date": "2026-05-01"}}
    created = call("POST", f"/segments/{segment}/mass-update", body=body)
    assert created.status == 202 and created.json["status"] == "pending"
    before = contacts_repo.get(A, "c1")
    run_exporter(aws, sqs)
    job = call("GET", f"/jobs/{created.json['job_id']}").json
    assert job["status"] == "succeeded" and job["kind"] == "mass_update"
    assert job["contacts_updated"] == 3 and job["members_read"] == 3 and job["set"] == body["set"]
    after = contacts_repo.get(A, "c1")
    assert after.fields["stage"] == "customer" and after.fields["tags"] == ["spring"]
    assert after.fields["email"] == "ana@example.com", "other fields are untouched"
    assert after.version == before.version + 1 and after.updated_at > before.updated_at
    assert contacts_repo.get(A, "outsider").fields.get("stage") is None


def test_mass_update_clears_a_field_with_null(call, segment, aws, sqs):
    call("POST", f"/segments/{segment}/mass-update", body={"set": {"stage": None}})
    run_exporter(aws, sqs)
    assert "stage" not in contacts_repo.get(A, "c3").fields


BAD_MASS_UPDATES = [
    ({"set": {"contact_id": "x"}}, ["/set/contact_id"]),
    ({"set": {"created_at": "2025-01-01T00:00:00Z"}}, ["/set/created_at"]),
    ({"set": {"email": "same@example.com"}}, ["/set/email"]),
    ({"set": {"shoe_size": 42}}, ["/set/shoe_size"]),
    (
        {"set": {"score": "high", "subscribed": "yes", "tags": "a"}},
        ["/set/score", "/set/subscribed", "/set/tags"],
    ),
    ({"set": {"expected_purchase_date": "01/05/2026"}}, ["/set/expected_purchase_date"]),
    ({"set": {}}, ["/set"]),
    ({"stage": "x"}, ["/set", "/stage"]),
]


def test_bad_mass_updates_are_422_with_set_paths(call, empty_segment):
    for body, paths in BAD_MASS_UPDATES:
        response = call("POST", f"/segments/{empty_segment}/mass-update", body=body)
        assert (response.status, response.paths()) == (422, paths), body


def test_reset_score_zeroes_members_and_writes_an_audit_record(call, segment, aws, sqs, dynamodb):
    created = call(
        "POST", f"/segments/{segment}/reset-score", body={"reason": "new scoring model", "confirm": True}
    )
    assert created.status == 202
    run_exporter(aws, sqs)
    job = call("GET", f"/jobs/{created.json['job_id']}").json
    assert job["status"] == "succeeded" and job["kind"] == "reset_score" and job["contacts_updated"] == 3
    assert [contacts_repo.get(A, c).fields["score"] for c in ("c1", "c2", "c3")] == [0, 0, 0]
    assert contacts_repo.get(A, "outsider").fields["score"] == 99
    (entry,) = audit.list_records(dynamodb, aws.name("MainTable"), A)
    assert entry["action"] == "reset_score" and entry["reason"] == "new scoring model"
    assert entry["contacts_updated"] == 3 and entry["outcome"] == "succeeded"
    assert entry["segment_id"] == segment and entry["job_id"] == created.json["job_id"]
    assert entry["requested_by"]["tenant_id"] == A and entry["requested_at"] <= entry["recorded_at"]
    assert audit.list_records(dynamodb, aws.name("MainTable"), B) == []


BAD_RESETS = [
    ({"reason": "x", "confirm": False}, ["/confirm"]),
    ({"reason": "x"}, ["/confirm"]),
    ({"confirm": True}, ["/reason"]),
    ({"reason": "   ", "confirm": True}, ["/reason"]),
]


def test_reset_score_needs_a_reason_and_confirmation(call, empty_segment):
    for body, paths in BAD_RESETS:
        response = call("POST", f"/segments/{empty_segment}/reset-score", body=body)
        assert (response.status, response.paths()) == (422, paths), body


def test_bulk_jobs_run_on_a_dynamic_segments_computed_members(call, aws, sqs):
    dynamic = segments_repo.create(
        A, name="High scorers", type="dynamic", rules={"field": "score", "op": "gte", "value": 50}
    )
    contacts_repo.upsert(A, "d1", {"email": "d1@example.com", "score": 80})
    memberships_repo.add_many(A, dynamic.id, ["d1"], source="dynamic")
    response = call("POST", f"/segments/{dynamic.id}/mass-update", body={"set": {"status": "contacted"}})
    assert response.status == 202
    run_exporter(aws, sqs)
    assert contacts_repo.get(A, "d1").fields["status"] == "contacted"


def test_a_read_only_key_cannot_start_jobs(api_call, segment):
    response = api_call(
        "POST", f"/segments/{segment}/exports", tenant=A, scopes="read", body={"format": "csv"}
    )
    assert response.status == 403
    assert json.loads(response.text)["error"]["code"] == "forbidden"
