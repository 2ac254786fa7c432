"""Stream-batch throughput of real-time membership: contacts/s for a tenant with 100 dynamic segments.

A fresh in-process moto with every template resource; one tenant with 100 dynamic segments (the
benchmark's realistic 50 — fields, activity aggregates, references — plus 50 field rules, ten of them
in one category) and an event log. ContactsTable stream records (NEW_IMAGE, 100 per batch,
as the template's event source mapping sends them) go to the real ``contact_stream`` handler twice:
``first_pass`` (every contact new: mostly adds) and ``update_pass`` (every contact changed: adds and
removes); then ``lone_changes``: 20 changes each alone in its invocation (a quiet tenant), and
``lone_moves``: lone changes moving exactly 1, 25, 50, 99 and 100 memberships of 100 segments (and
100 on the next day, the first change of a day for every segment: it writes the open days out).
Reported per pass: contacts, seconds, contacts/s, memberships added/removed, and the AWS requests per
contact by operation (DynamoDB's apart: the event log's S3 reads are not DynamoDB requests). The
seconds are bound by in-process moto (every call is serialised, and moto answers a GSI query by
sorting the whole table); the request counts are what each contact change costs on DynamoDB itself,
whatever the machine.
"""

from __future__ import annotations

import collections
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

TENANT = "bench-stream"
BATCH = 100
LONE_CHANGES = 20  # changes delivered one per invocation: each pays the tenant's rules and the counters
COUNTRIES = ["us", "de", "fr", "gb", "es"]
STAGES = ["lead", "mql", "sql", "customer", "churned"]
TAGS = ["vip", "high-intent", "b2b", "newsletter", "webinar"]


def _extra_segments() -> list[tuple[str, dict[str, Any], str | None, int]]:
    extra = []
    for i in range(50):
        kind = i % 5
        if kind == 0:
            rule = {"field": "score", "op": "gte", "value": i * 2}
        elif kind == 1:
            rule = {"field": "country", "op": "eq", "value": COUNTRIES[i % len(COUNTRIES)]}
        elif kind == 2:
            rule = {"all": [{"field": "stage", "op": "eq", "value": STAGES[i % len(STAGES)]},
                            {"field": "subscribed", "op": "is_true"}]}
        elif kind == 3:
            rule = {"field": "tags", "op": "has_any", "value": [TAGS[i % len(TAGS)]]}
        else:
            rule = {"not": {"field": "age", "op": "between", "value": [20 + i % 10, 40 + i % 10]}}
        extra.append((f"extra_{i:02d}", rule, "tier" if i < 10 else None, i % 3))
    return extra


def _contact(rng: random.Random, now: datetime) -> dict[str, Any]:
    return {
        "email": f"u{rng.randrange(10**9)}@{rng.choice(['gmail.com', 'example.com'])}",
        "country": rng.choice(COUNTRIES),
        "stage": rng.choice(STAGES),
        "score": rng.randrange(100),
        "age": rng.randrange(18, 80),
        "subscribed": rng.random() < 0.8,
        "tags": rng.sample(TAGS, rng.randrange(3)),
        "sent_count": rng.randrange(20),
        "clicks_count": rng.randrange(3),
        "created_at": (now - timedelta(days=rng.randrange(400))).isoformat(),
        "last_clicked_at": (now - timedelta(days=rng.randrange(90))).isoformat(),
    }


def _record(contact_id: str, fields: dict[str, Any], stamp: str, sequence: int, tenant: str = TENANT) -> dict[str, Any]:
    from audience.storage.models import ContactItem

    item = ContactItem(tenant, contact_id, fields=fields, created_at=stamp, updated_at=stamp, erased=False,
                       gsi1pk=tenant, gsi1sk=f"{stamp}#{contact_id}", version=1)
    image = item.serialize()
    return {
        "eventID": str(sequence),
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": time.time(),
            "Keys": {"pk": {"S": tenant}, "sk": {"S": contact_id}},
            "NewImage": image,
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": 512,
            "StreamViewType": "NEW_IMAGE",
        },
    }


class RequestCounter:
    """Counts AWS requests by operation (pynamodb and boto3 both end in ``BaseClient._make_api_call``),
    and DynamoDB's apart."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.dynamodb = 0

    def __enter__(self) -> RequestCounter:
        from botocore.client import BaseClient

        self._real = real = BaseClient._make_api_call
        counts, counter = self.counts, self

        def counted(client, operation_name, api_params):
            counts[operation_name] += 1
            if client.meta.service_model.service_name == "dynamodb":
                counter.dynamodb += 1
            return real(client, operation_name, api_params)

        BaseClient._make_api_call = counted
        return self

    def __exit__(self, *exc: object) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._real


def _pass(name: str, handler, records: list[dict[str, Any]], context, batch: int = BATCH) -> dict[str, Any]:
    from audience.storage import segments_repo

    before = sum(s.member_count for s in segments_repo.all_segments(TENANT))
    started = time.perf_counter()
    with RequestCounter() as requests:
        for start in range(0, len(records), batch):
            answer = handler({"Records": records[start:start + batch]}, context)
            if answer["batchItemFailures"]:
                raise RuntimeError(f"{name}: {len(answer['batchItemFailures'])} records failed")
    seconds = time.perf_counter() - started
    after = sum(s.member_count for s in segments_repo.all_segments(TENANT))
    per_contact = {op: round(n / len(records), 2) for op, n in requests.counts.most_common()}
    return {"pass": name, "contacts": len(records), "seconds": round(seconds, 3),
            "contacts_per_s": round(len(records) / seconds, 1), "net_membership_change": after - before,
            "batch": batch, "requests_per_contact": round(sum(requests.counts.values()) / len(records), 2),
            "dynamodb_requests_per_contact": round(requests.dynamodb / len(records), 2),
            "requests_per_contact_by_operation": per_contact}


def stream_throughput(segments: int = 100, quick: bool = False) -> dict[str, Any]:
    """Deliver stream batches for ``200`` (quick) or ``500`` contacts to the real handler, twice."""
    import boto3

    from bench.template_moto import template_moto

    contacts = 200 if quick else 500
    rng = random.Random(9)
    now = datetime.now(UTC)
    with template_moto(POWERTOOLS_LOG_LEVEL="WARNING") as resources:
        from audience.eventlog import append_events, events_table
        from audience.storage import categories_repo, segments_repo

        from bench.ruleset import raw_segments
        from functions.contact_stream.app import lambda_handler
        from tests.integration.api.conftest import FakeLambdaContext

        categories_repo.create(TENANT, "tier")
        definitions = [(sid, rule, None, 0) for sid, rule in raw_segments(50)] + _extra_segments()
        for sid, rule, category, priority in definitions[:segments]:
            segments_repo.create(TENANT, name=sid, type="dynamic", rules=rule, category=category,
                                 priority=priority, segment_id=sid)
        ids = [f"c{i:06d}" for i in range(contacts)]
        events = [(rng.choice(ids), rng.choice(["purchase", "email_open", "page_view"]),
                   now - timedelta(days=rng.randrange(60)), {"amount": str(rng.randrange(1, 300))})
                  for _ in range(contacts * 3)]
        append_events(TENANT, events_table(events), boto3.client("s3", region_name=resources.region), "bench")
        context = FakeLambdaContext(function_name="contact_stream")
        stamp1 = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        stamp2 = (now + timedelta(seconds=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        first = [_record(c, _contact(rng, now), stamp1, i) for i, c in enumerate(ids)]
        second = [_record(c, _contact(rng, now), stamp2, contacts + i) for i, c in enumerate(ids)]
        stamp3 = (now + timedelta(seconds=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        lone = [_record(c, _contact(rng, now), stamp3, 2 * contacts + i) for i, c in enumerate(ids[:LONE_CHANGES])]
        results = {"segments": segments, "batch_size": BATCH,
                   "passes": [_pass("first_pass", lambda_handler, first, context),
                              _pass("update_pass", lambda_handler, second, context),
                              _pass("lone_changes", lambda_handler, lone, context, batch=1)]}
    # a fresh moto of its own: unpatched moto deep-copies every table a transaction touches, and the
    # passes above leave thousands of memberships and history entries in them
    with template_moto(POWERTOOLS_LOG_LEVEL="WARNING"):
        results["lone_moves"] = _lone_moves(lambda_handler, context)
    return results


LONE_MOVES = (1, 25, 50, 99, 100)


def _lone_moves(handler, context, moves: tuple[int, ...] = LONE_MOVES) -> list[dict[str, Any]]:
    """DynamoDB requests of a change alone in its invocation (warm container) that moves exactly
    ``m`` of 100 dynamic segments' memberships: a tenant with segments ``score >= i`` (i < 100); a
    contact joins the first ``m`` (score m - 1), then leaves them (score -1). Expected with a read and
    transactions of 100 actions (2 + 3 per moved segment): 2 requests up to 32 moved, 5 for 99 and
    100. Last, ``first_of_day``: the stream's day (``realtime.apply._today``) moved to the next, a
    contact joins all 100 (each segment's first change of the day also writes its open day out: 4
    actions, 6 requests) and leaves them again (5). The tenant's retention (read once a minute per
    process for the history entries' expiry; in-process moto can take more than a minute per change
    here) is read before each change, outside its count."""
    from audience.realtime import apply
    from audience.storage import membership_history_repo, segments_repo

    tenant = "bench-lone"
    for i in range(100):
        segments_repo.create(tenant, name=f"score {i}", type="dynamic", segment_id=f"s{i:03d}",
                             rules={"field": "score", "op": "gte", "value": i})
    base = datetime(2025, 6, 1, 12, tzinfo=UTC)

    def alone(contact_id: str, score: int, second: int) -> RequestCounter:
        stamp = (base + timedelta(seconds=second)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record = _record(contact_id, {"score": score}, stamp, second, tenant)
        membership_history_repo.retention_days(tenant)
        with RequestCounter() as requests:
            if handler({"Records": [record]}, context)["batchItemFailures"]:
                raise RuntimeError(f"lone change of {contact_id} failed")
        return requests

    alone("warm", 100, 0)  # the container's first change of the tenant: reads the rules and counts
    found = []
    for number, moved in enumerate(moves):
        joined = alone(f"m{moved}", moved - 1, 2 * number + 1)
        left = alone(f"m{moved}", -1, 2 * number + 2)
        found.append({"moved": moved, "join_requests": joined.dynamodb, "leave_requests": left.dynamodb,
                      "join_by_operation": dict(joined.counts), "leave_by_operation": dict(left.counts)})
    today = apply._today
    tomorrow = (datetime.fromisoformat(today()) + timedelta(days=1)).date().isoformat()
    apply._today = lambda: tomorrow
    try:
        joined = alone("next-day", 99, 2 * len(moves) + 1)
        left = alone("next-day", -1, 2 * len(moves) + 2)
    finally:
        apply._today = today
    found.append({"moved": 100, "first_of_day": True, "join_requests": joined.dynamodb,
                  "leave_requests": left.dynamodb, "join_by_operation": dict(joined.counts),
                  "leave_by_operation": dict(left.counts)})
    return found


def run(quick: bool) -> dict[str, Any]:
    return stream_throughput(segments=100, quick=quick)


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
