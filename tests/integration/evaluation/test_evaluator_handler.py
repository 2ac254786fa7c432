"""The evaluator Lambda on moto: the schedule's summary (SPEC §6), direct calls, EvaluateQueue records."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from audience.storage import contacts_repo, memberships_repo, runs_repo, segments_repo, tenants_repo

EVENTS = Path(__file__).resolve().parents[3] / "shared" / "events"


@dataclass
class Context:
    function_name: str = "evaluator"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:evaluator"
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def handler(event):
    from functions.evaluator.app import lambda_handler

    return lambda_handler(event, Context())


def segment(tenant: str, name: str, rules: dict):
    return segments_repo.create(tenant, name=name, type="dynamic", rules=rules)


def test_schedule_evaluates_every_tenant_and_answers_the_summary(tenant):
    other = tenant + "-b"
    tenants_repo.create_tenant(other, "Other")
    for n in range(4):
        contacts_repo.upsert(tenant, f"a{n}", {"country": "DE" if n % 2 else "FR"})
    contacts_repo.upsert(other, "b0", {"country": "DE"})
    german = segment(tenant, "German", {"field": "country", "op": "eq", "value": "de"})
    others_german = segment(other, "German", {"field": "country", "op": "eq", "value": "DE"})

    answer = handler(json.loads((EVENTS / "schedule_evaluator.json").read_text()))

    runs = {run["tenant_id"]: run for run in answer["runs"]}
    assert runs[tenant]["segments"] == {german.id: 2}
    assert runs[other]["segments"] == {others_german.id: 1}
    assert set(runs[tenant]) == {"tenant_id", "as_of", "snapshot_id", "segments"}
    assert runs[tenant]["as_of"].endswith("Z") and runs[tenant]["snapshot_id"]
    assert set(memberships_repo.iter_members(other, others_german.id)) == {"b0"}  # tenants stay apart


def test_direct_call_evaluates_the_named_segment_and_what_depends_on_it(tenant):
    for n in range(3):
        contacts_repo.upsert(tenant, f"c{n}", {"score": n * 10})
    base = segment(tenant, "Scored", {"field": "score", "op": "gte", "value": 10})
    high = {"all": [{"segment": base.id}, {"field": "score", "op": "gte", "value": 20}]}
    dependent = segments_repo.create(tenant, name="Scored high", type="dynamic", references=[base.id], rules=high)
    unrelated = segment(tenant, "Unrelated", {"field": "score", "op": "is_not_empty"})

    answer = handler({"tenant_id": tenant, "segment_ids": [base.id]})

    assert answer["runs"][0]["segments"] == {base.id: 2, dependent.id: 1}
    assert segments_repo.get(tenant, unrelated.id).last_evaluated_at is None


def test_queue_record_runs_an_on_demand_evaluation(tenant):
    contacts_repo.upsert(tenant, "c0", {"country": "DE"})
    german = segment(tenant, "German", {"field": "country", "op": "eq", "value": "DE"})
    record = json.loads((EVENTS / "sqs_evaluate_segments.json").read_text())["Records"][0]
    record["body"] = json.dumps({"tenant_id": tenant, "segment_ids": [german.id], "run_id": "20240601T000000Z-q"})

    answer = handler({"Records": [record]})

    assert answer == {"batchItemFailures": []}
    assert segments_repo.get(tenant, german.id).member_count == 1
    assert runs_repo.get_run(tenant, "20240601T000000Z-q").status == "succeeded"
    evaluated_at = segments_repo.get(tenant, german.id).last_evaluated_at

    assert handler({"Records": [record]}) == {"batchItemFailures": []}  # delivered again: nothing runs
    assert segments_repo.get(tenant, german.id).last_evaluated_at == evaluated_at


def test_queue_record_for_a_busy_tenant_is_retried(tenant):
    runs_repo.acquire_lease(tenant, "another-run", 600)
    record = json.loads((EVENTS / "sqs_evaluate_segments.json").read_text())["Records"][0]
    record["body"] = json.dumps({"tenant_id": tenant})
    answer = handler({"Records": [record]})
    assert answer == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}


@dataclass
class NearlyTimedOut(Context):
    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def test_schedule_out_of_time_queues_the_remaining_tenants_instead_of_timing_out(tenant, aws):
    import boto3

    from functions.evaluator.app import lambda_handler

    contacts_repo.upsert(tenant, "c0", {"country": "DE"})
    german = segment(tenant, "German", {"field": "country", "op": "eq", "value": "DE"})

    answer = lambda_handler(json.loads((EVENTS / "schedule_evaluator.json").read_text()), NearlyTimedOut())

    assert answer["runs"] == [] and tenant in answer["queued"]
    sqs = boto3.client("sqs", region_name=aws.region)
    url = aws.env()["EVALUATE_QUEUE_URL"]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            bodies.append(json.loads(message["Body"]))
    assert {"tenant_id": tenant} in bodies
    assert segments_repo.get(tenant, german.id).last_evaluated_at is None  # not evaluated in this invocation
