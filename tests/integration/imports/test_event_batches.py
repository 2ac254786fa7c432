"""A batch of events you can follow: POST /events -> pending -> ingested, event files dropped in S3
get the same record named by their key (partly rejected, refused, every event rejected), other
tenants see none of it; the log's retention setting and the rules it refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import boto3
import pytest
from audience.settings import get_settings
from audience.storage import eventlog_repo, tenants_repo
from audience.storage.models import EventBatchItem, tenant_pk

from tests.integration.imports.api_events import call_api
from tests.integration.imports.test_import_api import deliver_import_queue

TENANT = "acme"
EVENT = {"contact_id": "c1", "event": "open", "occurred_at": "2025-03-01T10:00:00Z"}


@pytest.fixture
def tenant(aws):
    tenants_repo.create_tenant(TENANT, "Acme")
    tenants_repo.create_tenant("rival", "Rival")
    return TENANT


def drop_file(aws, name: str, body: str) -> str:
    key = f"tenants/{TENANT}/events/{name}"
    boto3.client("s3", region_name=aws.region).put_object(Bucket=get_settings().import_bucket, Key=key,
                                                          Body=body.encode())
    return status_path(f"events/{name}")


def status_path(batch_id: str) -> str:
    return f"/events/batches/{quote(batch_id, safe='')}"


def test_an_api_batch_is_pending_until_the_importer_ingests_it(aws, tenant):
    status, accepted = call_api("POST", "/events", {"events": [EVENT, {**EVENT, "contact_id": "c2"}]})
    assert status == 202
    assert accepted["accepted"] == 2
    assert accepted["status_url"] == f"/events/batches/{accepted['batch_id']}"
    status, batch = call_api("GET", accepted["status_url"])
    assert status == 200
    assert batch == {"batch_id": accepted["batch_id"], "status": "pending", "accepted": 2, "ingested": 0,
                     "rejected": 0, "errors": []}
    assert deliver_import_queue(aws) == {"batchItemFailures": []}
    status, batch = call_api("GET", accepted["status_url"])
    assert (batch["status"], batch["accepted"], batch["ingested"], batch["rejected"]) == ("ingested", 2, 2, 0)


def test_a_batch_record_expires_through_the_main_table_ttl(aws, tenant, monkeypatch):
    _, accepted = call_api("POST", "/events", {"events": [EVENT]})
    deliver_import_queue(aws)
    item = EventBatchItem.get(tenant_pk(TENANT), eventlog_repo.BATCH_PREFIX + accepted["batch_id"])
    days = (item.ttl - datetime.now(UTC)) / timedelta(days=1)
    assert eventlog_repo.BATCH_RECORD_DAYS - 1 < days <= eventlog_repo.BATCH_RECORD_DAYS
    ttl = boto3.client("dynamodb", region_name=aws.region).describe_time_to_live(
        TableName=get_settings().main_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")  # as template.yaml declares
    monkeypatch.setattr(eventlog_repo, "BATCH_RECORD_DAYS", -1)  # written already expired
    _, stale = call_api("POST", "/events", {"events": [EVENT]})
    assert call_api("GET", stale["status_url"])[0] == 404  # expired, before DynamoDB gets to delete it


def test_another_tenant_or_an_unknown_id_is_not_found(aws, tenant):
    _, accepted = call_api("POST", "/events", {"events": [EVENT]})
    status, body = call_api("GET", accepted["status_url"], tenant="rival")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert call_api("GET", "/events/batches/nope")[0] == 404


def test_a_dropped_file_partly_rejected_reports_each_bad_line(aws, tenant):
    lines = [json.dumps(EVENT), json.dumps({**EVENT, "occurred_at": "later"}), "{broken", json.dumps(EVENT)]
    path = drop_file(aws, "mixed.jsonl", "\n".join(lines))
    deliver_import_queue(aws)
    status, batch = call_api("GET", path)
    assert status == 200
    assert batch["batch_id"] == "events/mixed.jsonl"
    assert (batch["status"], batch["accepted"], batch["ingested"], batch["rejected"]) == ("ingested", 4, 2, 2)
    assert [e["index"] for e in batch["errors"]] == [2, 3]  # line numbers in the file
    assert "occurred_at" in batch["errors"][0]["message"]


def test_a_refused_file_and_a_file_of_only_bad_events_are_failed(aws, tenant):
    refused = drop_file(aws, "no-header.csv", "who,what\nc1,open\n")
    useless = drop_file(aws, "bad.jsonl", json.dumps({**EVENT, "contact_id": ""}))
    deliver_import_queue(aws)
    status, batch = call_api("GET", refused)
    assert (status, batch["status"], batch["ingested"]) == (200, "failed", 0)
    assert "contact_id" in batch["errors"][0]["message"]
    _, batch = call_api("GET", useless)
    assert (batch["status"], batch["accepted"], batch["rejected"]) == ("failed", 1, 1)


def test_retention_defaults_to_400_days_and_refuses_rules_looking_further_back(aws, tenant):
    assert call_api("GET", "/settings/events") == (200, {"retention_days": 400})
    assert call_api("PUT", "/settings/events", {"retention_days": 60}) == (200, {"retention_days": 60})
    assert call_api("GET", "/settings/events", tenant="rival") == (200, {"retention_days": 400})
    rules = {"all": [{"field": "score", "op": "gt", "value": 1},
                     {"event": "open", "within_last_days": 90, "aggregate": {"fn": "count", "op": "gte", "value": 1}}]}
    status, body = call_api("POST", "/segments", {"name": "Openers", "type": "dynamic", "rules": rules})
    assert status == 422
    assert [d["path"] for d in body["error"]["details"]] == ["/rules/all/1/within_last_days"]
    rules["all"][1]["within_last_days"] = 30
    status, created = call_api("POST", "/segments", {"name": "Openers", "type": "dynamic", "rules": rules})
    assert status == 201, created
    status, body = call_api("PUT", "/settings/events", {"retention_days": 7})
    assert status == 422 and body["error"]["details"][0]["path"] == "/retention_days"
    assert call_api("PUT", "/settings/events", {"retention_days": 0})[0] == 422
