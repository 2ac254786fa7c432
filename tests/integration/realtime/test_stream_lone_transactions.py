"""A change alone in its invocation (a quiet tenant) writes in transactions: with 100 dynamic segments
it costs two DynamoDB requests up to 32 memberships moved and at most five for all 100, whatever it
moves (a moved segment costs three actions: its membership, its history entry, and its counter with
today's history on the segment item), and the transactions keep memberships, history and counts
exact against a crash between them, redelivery and another writer changing a membership between the
read and the write. Run on the local stack's moto (``local_moto``): plain moto deep-copies every
table a transaction touches."""

from __future__ import annotations

import pytest
from audience.realtime import stamps
from audience.storage import history_repo, membership_history_repo, memberships_repo, segments_repo

from bench.stream import RequestCounter
from tests.integration.api.conftest import FakeLambdaContext
from tests.integration.realtime.conftest import modify_record, score_segments

pytestmark = pytest.mark.usefixtures("local_moto")


@pytest.fixture
def hundred_segments(aws, monkeypatch, frozen_day):
    # the tenant's retention (history entries' expiry) is read once a minute per process: not in the counts
    monkeypatch.setattr(membership_history_repo, "RETENTION_CACHE_SECONDS", 3600.0)
    monkeypatch.setattr(membership_history_repo, "_RETENTION", {})
    return score_segments("t-lone", 100)


def _alone(tenant: str, contact_id: str, score: int, second: int) -> dict:
    from functions.contact_stream.app import lambda_handler

    record = modify_record(tenant, contact_id, {"score": score}, second, f"2025-06-01T12:00:{second:02d}.000Z")
    return lambda_handler({"Records": [record]}, FakeLambdaContext(function_name="contact_stream"))


def _segments(moved: int) -> list[str]:
    return [f"s{i:03d}" for i in range(moved)]


def _assert_exact(tenant: str, expected: dict[str, set[str]], today: str) -> None:
    """Members, counts, the day's history and one history entry per join, for each segment."""
    for sid, members in expected.items():
        assert set(memberships_repo.iter_members(tenant, sid)) == members, sid
        assert segments_repo.get(tenant, sid).member_count == len(members), sid
        if members:
            [day] = history_repo.range(tenant, sid, today, today)
            assert (day.added, day.removed, day.total) == (len(members), 0, len(members)), sid
        entries = membership_history_repo.for_segment(tenant, sid, limit=100).items
        assert sorted(e["contact_id"] for e in entries) == sorted(members), sid


@pytest.mark.parametrize(("moved", "requests"), [(1, 2), (25, 2), (50, 3), (98, 4), (99, 5), (100, 5)])
def test_a_lone_change_costs_one_read_and_a_transaction_per_hundred_writes(
    hundred_segments, frozen_day, moved, requests
):
    tenant = hundred_segments
    assert _alone(tenant, "c-warm", 100, 0) == {"batchItemFailures": []}  # the container's first: rules kept
    with RequestCounter() as counted:
        assert _alone(tenant, "c1", moved - 1, 1) == {"batchItemFailures": []}  # joins s000..s{moved-1}
    assert counted.dynamodb == requests, counted.counts
    assert counted.counts["BatchGetItem"] == 1 and counted.counts["BatchWriteItem"] == 0, counted.counts
    _assert_exact(tenant, {sid: {"c-warm", "c1"} for sid in _segments(moved)}, frozen_day.day)
    with RequestCounter() as counted:  # and back: every membership it holds leaves
        assert _alone(tenant, "c1", -1, 2) == {"batchItemFailures": []}
    assert counted.dynamodb == requests, counted.counts
    for sid in _segments(moved):
        assert set(memberships_repo.iter_members(tenant, sid)) == {"c-warm"}
        assert segments_repo.get(tenant, sid).member_count == 1
        [day] = history_repo.range(tenant, sid, frozen_day.day, frozen_day.day)
        assert (day.added, day.removed, day.total) == (2, 1, 1)


def test_a_crash_between_a_lone_changes_transactions_converges_on_redelivery(hundred_segments, monkeypatch, frozen_day):
    from audience.storage.base import connection

    tenant = hundred_segments
    assert _alone(tenant, "c-warm", 100, 0) == {"batchItemFailures": []}
    client = connection().client
    real = client.transact_write_items
    calls = []

    def dies_on_the_second(**kwargs):
        calls.append(len(kwargs["TransactItems"]))
        if len(calls) == 2:
            raise RuntimeError("the Lambda was killed")
        return real(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", dies_on_the_second)
    with pytest.raises(Exception, match="failed processing"):  # 60 to join: 32 written, then the crash
        _alone(tenant, "c1", 59, 1)
    assert len(set(memberships_repo.iter_members(tenant, "s000")) & {"c1"}) == 1
    monkeypatch.undo()
    assert _alone(tenant, "c1", 59, 1) == {"batchItemFailures": []}  # the same record, delivered again
    _assert_exact(tenant, {sid: {"c-warm", "c1"} for sid in _segments(60)}, frozen_day.day)
    assert _alone(tenant, "c1", 59, 1) == {"batchItemFailures": []}  # and once more: nothing moves twice
    _assert_exact(tenant, {sid: {"c-warm", "c1"} for sid in _segments(60)}, frozen_day.day)


def test_a_membership_written_between_the_read_and_the_transaction_is_not_counted_twice(hundred_segments, monkeypatch):
    tenant = hundred_segments
    assert _alone(tenant, "c-warm", 100, 0) == {"batchItemFailures": []}
    real = stamps.current_members

    def another_writer_follows_the_read(tenant_, contact_id, segment_ids):
        held = real(tenant_, contact_id, segment_ids)
        if contact_id == "c1" and "s001" not in held:  # a run writes c1 into s001 and counts it
            memberships_repo.add_many(tenant_, "s001", ["c1"], source="dynamic")
            segments_repo.adjust_member_count(tenant_, "s001", 1)
        return held

    monkeypatch.setattr(stamps, "current_members", another_writer_follows_the_read)
    assert _alone(tenant, "c1", 2, 1) == {"batchItemFailures": []}  # joins s000, s001, s002
    for sid in ("s000", "s001", "s002"):
        assert set(memberships_repo.iter_members(tenant, sid)) == {"c-warm", "c1"}
        assert segments_repo.get(tenant, sid).member_count == 2, sid
