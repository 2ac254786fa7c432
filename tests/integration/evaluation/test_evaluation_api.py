"""POST /segments/{id}/evaluate, /segments/preview and /segments/bulk through the real API handler."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
from audience.evaluation.run import run_tenant
from audience.fields import DEFAULT_CATALOG
from audience.rules import evaluate_record, parse_rule
from audience.storage import categories_repo, contacts_repo, runs_repo, segments_repo

from tests.integration.api.conftest import api_call  # noqa: F401 - the shared API fixture


def seed(tenant: str) -> None:
    for n, (country, score, tags) in enumerate(
        [("DE", 10, ["vip"]), ("de", 60, []), ("FR", 70, ["VIP", "b2b"]), ("US", None, ["b2b"]), (None, 5, [])]
    ):
        fields = {"email": f"p{n}@example.com", "country": country, "score": score, "tags": tags}
        contacts_repo.upsert(tenant, f"p{n}", {k: v for k, v in fields.items() if v is not None})


def test_evaluate_queues_a_run_and_answers_202_with_its_id(tenant, api_call, aws):  # noqa: F811
    segment = segments_repo.create(tenant, name="All", type="dynamic", rules={"field": "email", "op": "is_not_empty"})
    answer = api_call("POST", f"/segments/{segment.id}/evaluate", tenant=tenant)
    assert answer.status == 202
    run_id = json.loads(answer.text)["run_id"]
    assert runs_repo.get_run(tenant, run_id).status == "queued"
    sqs = boto3.client("sqs", region_name=aws.region)
    messages = sqs.receive_message(QueueUrl=aws.env()["EVALUATE_QUEUE_URL"], MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    assert {"tenant_id": tenant, "segment_ids": [segment.id], "run_id": run_id} in bodies


def test_evaluate_unknown_or_static_segment_is_refused(tenant, api_call):  # noqa: F811
    static = segments_repo.create(tenant, name="List", type="static")
    assert api_call("POST", "/segments/nope/evaluate", tenant=tenant).status == 404
    assert api_call("POST", f"/segments/{static.id}/evaluate", tenant=tenant).status == 409


def test_preview_counts_and_samples_what_the_rule_selects(tenant, api_call):  # noqa: F811
    seed(tenant)
    rules = {"any": [{"field": "country", "op": "eq", "value": "de"}, {"field": "score", "op": "gte", "value": 65}]}
    answer = api_call("POST", "/segments/preview", tenant=tenant, body={"rules": rules, "sample_size": 2})
    assert answer.status == 200, answer.text
    body = json.loads(answer.text)
    rule = parse_rule(rules, DEFAULT_CATALOG)
    now = datetime.now(UTC)
    expected = {c.contact_id for c in contacts_repo.iter_all(tenant)
                if evaluate_record(rule, c.as_row(), as_of=now, catalog=DEFAULT_CATALOG)}
    assert body["count"] == len(expected) == 3
    assert len(body["sample"]) == 2 and {row["contact_id"] for row in body["sample"]} <= expected
    assert all("email" in row for row in body["sample"])


def test_preview_sees_the_newest_snapshot_after_a_run(tenant, api_call, s3):  # noqa: F811
    seed(tenant)
    run_tenant(tenant, s3=s3)
    contacts_repo.upsert(tenant, "late", {"country": "DE"})
    first = json.loads(api_call("POST", "/segments/preview", tenant=tenant,
                                body={"rules": {"field": "country", "op": "eq", "value": "DE"}}).text)
    assert first["count"] == 2  # the snapshot of the run, not the table
    run_tenant(tenant, s3=s3)
    second = json.loads(api_call("POST", "/segments/preview", tenant=tenant,
                                 body={"rules": {"field": "country", "op": "eq", "value": "DE"}}).text)
    assert second["count"] == 3


def test_preview_of_a_bad_rule_is_422_with_the_path(tenant, api_call):  # noqa: F811
    answer = api_call("POST", "/segments/preview", tenant=tenant,
                      body={"rules": {"all": [{"field": "country", "op": "eq", "value": "DE"},
                                              {"field": "score", "op": "contains", "value": "x"}]}})
    assert answer.status == 422
    assert any(d["path"].startswith("/rules/all/1") for d in json.loads(answer.text)["error"]["details"])


def test_bulk_dry_run_counts_and_creation_makes_one_segment_per_value(tenant, api_call):  # noqa: F811
    seed(tenant)
    categories_repo.create(tenant, "Country")
    body = {"field": "country", "name_prefix": "Country: ", "category": "Country",
            "rules": {"field": "email", "op": "is_not_empty"}}
    dry = api_call("POST", "/segments/bulk", tenant=tenant, body=body, query={"dry_run": "true"})
    assert dry.status == 200, dry.text
    counted = json.loads(dry.text)
    assert counted["count"] == 3  # de (2, case folded), fr, us
    assert {v["name"]: v["contacts"] for v in counted["values"]} == {
        "Country: DE": 2, "Country: FR": 1, "Country: US": 1}
    assert segments_repo.all_segments(tenant) == []

    created = api_call("POST", "/segments/bulk", tenant=tenant, body=body)
    assert created.status == 201, created.text
    segments = json.loads(created.text)["segments"]
    assert sorted(s["name"] for s in segments) == ["Country: DE", "Country: FR", "Country: US"]
    assert all(s["type"] == "dynamic" and s["category"] == "Country" for s in segments)
    result = run_tenant(tenant)
    by_name = {s["name"]: s["id"] for s in segments}
    assert result.segments[by_name["Country: DE"]] == 2


def test_bulk_list_field_splits_by_item_and_too_many_values_is_422(tenant, api_call, s3, monkeypatch):  # noqa: F811
    seed(tenant)
    dry = json.loads(api_call("POST", "/segments/bulk", tenant=tenant, body={"field": "tags", "name_prefix": "Tag "},
                              query={"dry_run": "true"}).text)
    assert {v["name"]: v["contacts"] for v in dry["values"]} == {"Tag b2b": 2, "Tag vip": 2}
    too_many = api_call("POST", "/segments/bulk", tenant=tenant, body={"field": "email", "name_prefix": "E "})
    assert too_many.status == 201  # 5 distinct emails: under the cap
    from audience.evaluation import bulk_segments, snapshots

    monkeypatch.setattr(bulk_segments, "MAX_SEGMENTS", 3)
    for n in range(4):
        contacts_repo.upsert(tenant, f"x{n}", {"company": f"Company {n}"})
    snapshots.build_snapshot(tenant, s3)  # bulk reads the newest snapshot
    refused = api_call("POST", "/segments/bulk", tenant=tenant, body={"field": "company", "name_prefix": "C "},
                       query={"dry_run": "true"})
    assert refused.status == 422
    assert json.loads(refused.text)["error"]["details"][0]["path"] == "/field"
    unknown = api_call("POST", "/segments/bulk", tenant=tenant, body={"field": "nope"}, query={"dry_run": "true"})
    assert unknown.status == 422
