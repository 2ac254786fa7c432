"""audience_sha256 with ``changes_since``: only who joined (add) or left (remove) since then, from the
membership history, through the real API and exporter; the full export stays the default."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime, timedelta

import boto3
from audience.evaluation.run import run_tenant
from audience.storage import contacts_repo, jobs_repo, segments_repo

from tests.integration.exports.conftest import World


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def export(api_call, world, tenant, segment_id, body):
    answer = api_call("POST", f"/segments/{segment_id}/exports", tenant=tenant, body=body)
    assert answer.status == 202, answer.text
    world.run_queued()
    job = jobs_repo.get(tenant, answer.json["job_id"])
    assert job.status == "succeeded", job.error
    return job, list(csv.reader(io.StringIO(world.download(job).decode("utf-8"))))


def test_delta_export_after_a_run_lists_joins_and_leaves(tenant, s3, aws, api_call):
    clients = [boto3.client(name, region_name=aws.region) for name in ("sqs", "dynamodb")]
    world = World(aws, s3, *clients)
    for n in range(5):
        contacts_repo.upsert(tenant, f"c{n}", {"email": f"C{n}@Example.com ", "score": 80})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 50})
    first = run_tenant(tenant, as_of=datetime.now(UTC), s3=s3)
    mark = (first.as_of + timedelta(milliseconds=1)).isoformat().replace("+00:00", "Z")
    contacts_repo.upsert(tenant, "c1", {"email": "c1@example.com", "score": 10})  # leaves
    contacts_repo.upsert(tenant, "c9", {"email": "c9@example.com", "score": 90})  # joins
    contacts_repo.upsert(tenant, "quiet", {"email": "quiet@example.com", "score": 90, "subscribed": False})
    run_tenant(tenant, as_of=datetime.now(UTC) + timedelta(seconds=1), s3=s3)

    job, rows = export(api_call, world, tenant, high.id, {"format": "audience_sha256", "changes_since": mark})
    assert rows[0] == ["email", "phone", "action"]
    assert sorted(rows[1:]) == sorted([[sha("c9@example.com"), "", "add"], [sha("c1@example.com"), "", "remove"]])
    assert (job.counts["added"], job.counts["removed"], job.counts["excluded_unsubscribed"]) == (1, 1, 1)

    _, full = export(api_call, world, tenant, high.id, {"format": "audience_sha256"})
    assert full[0] == ["email", "phone"] and len(full) == 1 + 5  # c0, c2, c3, c4, c9 (quiet is unsubscribed)


def test_changes_since_is_only_for_audience_sha256(tenant, api_call):
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 50})
    answer = api_call("POST", f"/segments/{high.id}/exports", tenant=tenant,
                      body={"format": "csv", "changes_since": "2024-01-01"})
    assert answer.status == 422 and answer.paths() == ["/changes_since"]
    bad = api_call("POST", f"/segments/{high.id}/exports", tenant=tenant,
                   body={"format": "audience_sha256", "changes_since": "soon"})
    assert bad.status == 422 and bad.paths() == ["/changes_since"]
