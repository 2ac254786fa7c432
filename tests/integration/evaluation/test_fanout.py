"""A large tenant's run fanned out over EvaluateQueue: shards delivered to the evaluator Lambda as SQS
records, the last one writing the run — the same answer as one in-process pass; redeliveries harmless."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from audience.evaluation import shards, snapshots
from audience.evaluation.run import build_plan
from audience.fields import DEFAULT_CATALOG
from audience.storage import (
    contacts_repo,
    history_repo,
    memberships_repo,
    rules_version,
    runs_repo,
    segments_repo,
    suppression_repo,
)

from tests.integration.evaluation.test_evaluator_handler import handler

EVENTS = Path(__file__).resolve().parents[3] / "shared" / "events"


def queued_records(aws, tenant: str) -> list[dict]:
    """This tenant's messages on EvaluateQueue, as the SQS event source would hand them over."""
    import boto3

    sqs = boto3.client("sqs", region_name=aws.region)
    url = aws.env()["EVALUATE_QUEUE_URL"]
    template = json.loads((EVENTS / "sqs_evaluate_segments.json").read_text())["Records"][0]
    records = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return records
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if json.loads(message["Body"])["tenant_id"] == tenant:
                records.append({**template, "messageId": message["MessageId"], "body": message["Body"]})


def test_fanned_out_run_equals_one_pass_and_redelivered_shards_change_nothing(tenant, s3, aws, monkeypatch):
    stamp_puts: list[bool] = []  # the rules stamp's PutItems (pending or not)
    real_put = rules_version._put
    monkeypatch.setattr(rules_version, "_put", lambda t, *, pending: stamp_puts.append(pending) or real_put(
        t, pending=pending))
    bucket = aws.env()["DATA_BUCKET"]
    monkeypatch.setattr(snapshots, "ROWS_PER_FILE", 7)  # 45 contacts: 7 base files
    monkeypatch.setenv("EVALUATION_SHARD_FILES", "3")  # -> 3 shards
    for n in range(45):
        contacts_repo.upsert(tenant, f"c{n:02d}", {"score": n, "country": ["DE", "FR", "US"][n % 3],
                                                   "sent_count": n % 5, "clicks_count": 0 if n % 2 else 1})
    static = segments_repo.create(tenant, name="Hand-picked", type="static", category="tier")
    memberships_repo.add_many(tenant, static.id, ["c00", "c03", "c30"], source="static", category="tier")
    high = segments_repo.create(tenant, name="High", type="dynamic", category="tier", priority=1,
                                rules={"field": "score", "op": "gte", "value": 25})
    german = segments_repo.create(tenant, name="German", type="dynamic", category="tier", priority=2,
                                  rules={"field": "country", "op": "eq", "value": "de"})
    either = segments_repo.create(tenant, name="High or picked", type="dynamic", references=[high.id, static.id],
                                  rules={"any": [{"segment": high.id}, {"segment": static.id}]})
    suppression_repo.put(tenant, {"rules": None,
                                  "received_at_least_never_clicked": {"enabled": True, "min_received": 4}})

    stamp_puts.clear()
    answer = handler({"tenant_id": tenant})

    [summary] = answer["runs"]
    assert summary["status"] == "sharded" and summary["shards"] == 3 and summary["segments"] == {}
    run_id = summary["run_id"]
    assert runs_repo.get_run(tenant, run_id).status == "sharding"
    records = queued_records(aws, tenant)
    assert sorted(json.loads(r["body"])["shard"] for r in records) == [0, 1, 2]
    for record in records:
        assert handler({"Records": [record]}) == {"batchItemFailures": []}

    run = runs_repo.get_run(tenant, run_id)
    assert run.status == "succeeded" and run.detail["shards"] == 3
    assert stamp_puts == [True, False]  # pending before the finishing shard's writes, settled after: not 3 bumps
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=f"tenants/{tenant}/runs/{run_id}/")
    manifest = snapshots.read_manifest(tenant, summary["snapshot_id"], s3, bucket)
    plan, _ = build_plan(tenant, DEFAULT_CATALOG, datetime.fromisoformat(summary["as_of"]), manifest, s3, bucket)
    one_pass = shards.evaluate_sharded(plan, manifest, s3, 1, bucket=bucket)
    for segment in (high, german, either):
        expected = set(one_pass[segment.id].to_pylist())
        assert set(memberships_repo.iter_members(tenant, segment.id)) == expected, segment.name
        assert segments_repo.get(tenant, segment.id).member_count == len(expected)
    assert {"c28", "c29", "c39"} & set(one_pass[high.id].to_pylist()) == {"c28"}  # 4 received, never clicked
    assert not set(one_pass[high.id].to_pylist()) & {"c00", "c03", "c30"}  # static placement first
    assert runs_repo.acquire_lease(tenant, "next-run", 60)  # the finishing shard released the lease
    runs_repo.release_lease(tenant, "next-run")

    day = datetime.fromisoformat(summary["as_of"]).date().isoformat()
    [before] = history_repo.range(tenant, high.id, day, day)
    assert handler({"Records": [records[0]]}) == {"batchItemFailures": []}  # redelivered after the finish
    [after] = history_repo.range(tenant, high.id, day, day)
    assert (after.added, after.removed, after.total) == (before.added, before.removed, before.total)


def test_a_fanned_out_run_taken_over_after_its_lease_expired_never_writes(tenant, s3, aws, monkeypatch):
    from audience.evaluation.run import run_tenant

    monkeypatch.setattr(snapshots, "ROWS_PER_FILE", 4)
    monkeypatch.setenv("EVALUATION_SHARD_FILES", "1")
    for n in range(10):
        contacts_repo.upsert(tenant, f"c{n}", {"score": n})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 5})
    [summary] = handler({"tenant_id": tenant})["runs"]
    records = queued_records(aws, tenant)
    assert summary["status"] == "sharded" and len(records) == 3
    runs_repo.release_lease(tenant, summary["run_id"])  # as if its 15 minutes had passed
    contacts_repo.upsert(tenant, "c9", {"score": 0})

    run_tenant(tenant, s3=s3)  # the next run (in-process) takes over
    for record in records:  # the old run's shards arrive late
        assert handler({"Records": [record]}) == {"batchItemFailures": []}

    assert runs_repo.get_run(tenant, summary["run_id"]).status == "abandoned"
    assert set(memberships_repo.iter_members(tenant, high.id)) == {"c5", "c6", "c7", "c8"}
    assert segments_repo.get(tenant, high.id).member_count == 4
