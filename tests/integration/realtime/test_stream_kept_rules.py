"""A warm contact_stream container keeps each tenant's rules and the counts it moved: a change alone in
its invocation costs at most 5 DynamoDB requests with 100 dynamic segments, and what the container
keeps never makes it decide with stale rules or write a wrong count (the rules stamp is checked inside
the claim's transaction; a count is set only while it still holds the value the container knows).
Run on the local stack's moto (``local_moto``): plain moto deep-copies every table a transaction
touches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from audience.realtime import apply, stamps
from audience.storage import (
    history_repo,
    membership_history_repo,
    memberships_repo,
    rules_version,
    segments_repo,
    suppression_repo,
)

from bench.stream import RequestCounter
from tests.integration.api.conftest import FakeLambdaContext
from tests.integration.realtime.conftest import modify_record, score_segments

pytestmark = pytest.mark.usefixtures("local_moto")


def _alone(tenant: str, contact_id: str, fields: dict, sequence: int) -> dict:
    """Deliver one change in an invocation of its own, as a quiet tenant's stream does."""
    from functions.contact_stream.app import lambda_handler

    stamp = f"2025-06-01T12:00:{sequence:02d}.000Z"
    record = modify_record(tenant, contact_id, fields, sequence, stamp)
    return lambda_handler({"Records": [record]}, FakeLambdaContext(function_name="contact_stream"))


@pytest.fixture
def hundred_segments(aws, frozen_day, monkeypatch):
    # the tenant's retention (history entries' expiry) is read once a minute per process: not in the
    # counts (a loaded machine took more than a minute between two changes here)
    monkeypatch.setattr(membership_history_repo, "RETENTION_CACHE_SECONDS", 3600.0)
    monkeypatch.setattr(membership_history_repo, "_RETENTION", {})
    return score_segments("t-kept", 100)


def _day(tenant: str, segment_id: str, today: str):
    [day] = history_repo.range(tenant, segment_id, today, today)
    return day


def test_a_change_alone_in_its_invocation_costs_at_most_five_requests_with_a_hundred_segments(
    hundred_segments, frozen_day
):
    tenant = hundred_segments
    assert _alone(tenant, "c-warm", {"score": 3}, 0) == {"batchItemFailures": []}  # the container's first
    for i in range(1, 11):
        with RequestCounter() as requests:
            assert _alone(tenant, f"c{i}", {"score": 10 + i}, i) == {"batchItemFailures": []}
        # the consistent read of its 100 memberships, then the claim with the rules check, its
        # memberships, history entries, counters and days in transactions: no rules, no totals read
        assert requests.dynamodb <= 5, requests.counts
        assert requests.counts["Query"] == 0 and requests.counts["GetItem"] == 0, requests.counts
    for sid in ("s000", "s003", "s004", "s011", "s015", "s020", "s021"):
        expected = {f"c{i}" for i in range(1, 11) if 10 + i >= int(sid[1:])} | (
            {"c-warm"} if int(sid[1:]) <= 3 else set()
        )
        assert set(memberships_repo.iter_members(tenant, sid)) == expected
        assert segments_repo.get(tenant, sid).member_count == len(expected)
        if expected:
            assert (_day(tenant, sid, frozen_day.day).added, _day(tenant, sid, frozen_day.day).total) == (
                len(expected),
                len(expected),
            )


def test_a_segment_created_or_changed_after_the_rules_were_kept_is_seen_by_the_next_change(hundred_segments):
    tenant = hundred_segments
    assert _alone(tenant, "c1", {"score": 5}, 1) == {"batchItemFailures": []}  # rules kept: 100 segments
    segments_repo.create(
        tenant, name="new", type="dynamic", segment_id="snew", rules={"field": "score", "op": "lte", "value": 5}
    )
    segment = segments_repo.get(tenant, "s099")
    segments_repo.update(
        tenant, "s099", {"rules": {"field": "score", "op": "gte", "value": 0}}, expected_version=segment.version
    )
    assert _alone(tenant, "c2", {"score": 4}, 2) == {"batchItemFailures": []}
    assert set(memberships_repo.iter_members(tenant, "snew")) == {"c2"}
    assert set(memberships_repo.iter_members(tenant, "s099")) == {"c2"}
    assert segments_repo.get(tenant, "snew").member_count == 1
    # a batch (claims in bulk) sees a deletion made after the last invocation
    segments_repo.delete(tenant, "s000")
    from functions.contact_stream.app import lambda_handler

    records = [modify_record(tenant, f"d{i}", {"score": 1}, 10 + i, "2025-06-01T12:01:00.000Z") for i in range(3)]
    assert lambda_handler({"Records": records}, FakeLambdaContext(function_name="contact_stream")) == {
        "batchItemFailures": []
    }
    assert set(memberships_repo.iter_members(tenant, "s000")) == {"c1", "c2"}  # none of the batch joined it
    assert set(memberships_repo.iter_members(tenant, "s001")) == {"c1", "c2", "d0", "d1", "d2"}


def test_suppression_saved_after_the_rules_were_kept_applies_to_the_next_change(hundred_segments):
    tenant = hundred_segments
    assert _alone(tenant, "c1", {"score": 5}, 1) == {"batchItemFailures": []}
    suppression_repo.put(tenant, {"rules": {"field": "score", "op": "lt", "value": 50}})
    assert apply.KEPT.get(tenant)[0] != rules_version.current(tenant)  # the kept rules are stale now
    assert _alone(tenant, "c2", {"score": 7}, 2) == {"batchItemFailures": []}
    assert set(memberships_repo.iter_members(tenant, "s000")) == {"c1"}  # c2 is suppressed


def test_a_count_moved_by_another_writer_is_not_overwritten_and_the_day_total_stays_exact(hundred_segments, frozen_day):
    tenant = hundred_segments
    assert _alone(tenant, "c1", {"score": 0}, 1) == {"batchItemFailures": []}  # s000 known at 1
    assert segments_repo.adjust_member_count(tenant, "s000", 5) == 6  # another invocation, a static change...
    assert _alone(tenant, "c2", {"score": 0}, 2) == {"batchItemFailures": []}
    assert segments_repo.get(tenant, "s000").member_count == 7
    assert (_day(tenant, "s000", frozen_day.day).added, _day(tenant, "s000", frozen_day.day).total) == (2, 7)
    with RequestCounter() as requests:  # the count read back is known again: one transaction once more
        assert _alone(tenant, "c3", {"score": 0}, 3) == {"batchItemFailures": []}
    assert requests.dynamodb <= 5, requests.counts
    assert segments_repo.get(tenant, "s000").member_count == 8 and _day(tenant, "s000", frozen_day.day).total == 8


def test_an_evaluation_recorded_after_the_rules_were_kept_keeps_the_runs_decision(hundred_segments):
    tenant = hundred_segments
    assert _alone(tenant, "c1", {"score": 5}, 1) == {"batchItemFailures": []}
    segments_repo.record_evaluation(tenant, "s050", member_count=0, evaluated_at="2025-06-01T13:00:00.000Z")
    assert _alone(tenant, "c2", {"score": 60}, 2) == {"batchItemFailures": []}  # older than the run
    assert set(memberships_repo.iter_members(tenant, "s050")) == set()  # the run saw this change already
    assert set(memberships_repo.iter_members(tenant, "s049")) == {"c2"}


def test_a_stale_record_alone_is_still_skipped_with_kept_rules(hundred_segments):
    tenant = hundred_segments
    assert _alone(tenant, "c1", {"score": 5}, 5) == {"batchItemFailures": []}
    assert _alone(tenant, "c1", {"score": 90}, 4) == {"batchItemFailures": []}  # older than the one applied
    assert stamps.watermark(tenant, "c1") == "2025-06-01T12:00:05.000Z"
    assert set(memberships_repo.iter_members(tenant, "s090")) == set()
    assert segments_repo.get(tenant, "s005").member_count == 1


@pytest.fixture
def stamp_puts(monkeypatch):
    """The rules stamp's PutItems, in order: "pending" or "settled"."""
    puts: list[str] = []
    real = rules_version._put

    def counted(tenant, *, pending):
        puts.append("pending" if pending else "settled")
        return real(tenant, pending=pending)

    monkeypatch.setattr(rules_version, "_put", counted)
    return puts


def _joined(tenant: str, contact_id: str, segments: int) -> set[str]:
    return {
        f"s{i:03d}" for i in range(segments) if contact_id in set(memberships_repo.iter_members(tenant, f"s{i:03d}"))
    }


def test_a_run_moves_the_rules_stamp_twice_not_once_per_segment_and_containers_see_its_decisions(aws, stamp_puts):
    import boto3
    from audience.evaluation.run import run_tenant
    from audience.storage import contacts_repo

    tenant = score_segments("t-run-stamp", 8)
    for i in range(4):
        contacts_repo.upsert(tenant, f"r{i}", {"score": i})
    assert _alone(tenant, "c1", {"score": 5}, 1) == {"batchItemFailures": []}  # the container keeps the rules
    stamp_puts.clear()
    run_tenant(tenant, as_of=datetime(2025, 6, 1, 13, tzinfo=UTC), s3=boto3.client("s3", region_name=aws.region))
    assert stamp_puts == ["pending", "settled"]  # 8 segments evaluated: 8 PutItems before
    assert rules_version.read(tenant)[1] is False
    # a change older than the run: every segment keeps the run's decision (the kept rules were reloaded)
    assert _alone(tenant, "c2", {"score": 6}, 2) == {"batchItemFailures": []}
    assert _joined(tenant, "c2", 8) == set()


def test_a_run_killed_between_its_evaluations_leaves_no_container_on_the_old_rules(hundred_segments, stamp_puts):
    import contextvars

    tenant = hundred_segments
    assert _alone(tenant, "c1", {"score": 5}, 1) == {"batchItemFailures": []}  # rules kept by the container

    def run_writing_evaluations():
        with rules_version.one_bump(tenant):
            segments_repo.record_evaluation(tenant, "s050", member_count=0, evaluated_at="2025-06-01T13:00:00.000Z")
            yield  # the Lambda is killed here: the block never ends, the settled stamp is never put
            segments_repo.record_evaluation(tenant, "s049", member_count=0, evaluated_at="2025-06-01T13:00:00.000Z")

    writer, context = run_writing_evaluations(), contextvars.copy_context()
    context.run(next, writer)
    assert stamp_puts == ["pending"] and rules_version.read(tenant)[1] is True
    assert _alone(tenant, "c2", {"score": 60}, 2) == {"batchItemFailures": []}  # older than the run
    assert "s050" not in _joined(tenant, "c2", 100) and "s049" in _joined(tenant, "c2", 100)
    # rules read under a pending stamp are not kept: the next invocation reads them again
    assert apply.KEPT.get(tenant) is None
    context.run(next, writer, None)  # (in this test the writer goes on: its second evaluation...)
    assert _alone(tenant, "c3", {"score": 60}, 3) == {"batchItemFailures": []}
    assert not {"s049", "s050"} & _joined(tenant, "c3", 100)  # ...is seen by the next change at once
    assert stamp_puts == ["pending", "settled"] and rules_version.read(tenant)[1] is False
