"""A lone change keeps today's history on the segment item (its open day), moved in the same
conditional update as the count: 100 moves (joins, leaves or both) cost one read and four
transactions. The first change of a later day writes the open day out, and ``/segments/{id}/stats``
answers as when every change added to a day item (the batched path's way, kept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from audience.realtime import apply
from audience.segments.stats import segment_stats
from audience.storage import history_repo, membership_history_repo, memberships_repo, segments_repo
from audience.storage.models import HistoryDayItem, history_pk

from bench.stream import RequestCounter
from tests.integration.api.conftest import FakeLambdaContext
from tests.integration.realtime.conftest import modify_record

pytestmark = pytest.mark.usefixtures("local_moto")

A = [f"a{i:02d}" for i in range(50)]  # score >= 1
B = [f"b{i:02d}" for i in range(50)]  # score <= 1


def _segments(tenant: str) -> str:
    for sid in A:
        segments_repo.create(
            tenant, name=sid, type="dynamic", segment_id=sid, rules={"field": "score", "op": "gte", "value": 1}
        )
    for sid in B:
        segments_repo.create(
            tenant, name=sid, type="dynamic", segment_id=sid, rules={"field": "score", "op": "lte", "value": 1}
        )
    return tenant


@pytest.fixture
def tenant(aws, monkeypatch, frozen_day):
    # the tenant's retention (history entries' expiry) is read once a minute per process: not in the counts
    monkeypatch.setattr(membership_history_repo, "RETENTION_CACHE_SECONDS", 3600.0)
    monkeypatch.setattr(membership_history_repo, "_RETENTION", {})
    return _segments("t-open")


def _record(tenant: str, contact_id: str, fields: dict, second: int) -> dict:
    stamp = (datetime(2025, 6, 1, 12, tzinfo=UTC) + timedelta(seconds=second)).isoformat(timespec="milliseconds")
    return modify_record(tenant, contact_id, fields, second, stamp.replace("+00:00", "Z"))


def _deliver(records: list[dict]) -> None:
    from functions.contact_stream.app import lambda_handler

    assert lambda_handler({"Records": records}, FakeLambdaContext(function_name="contact_stream")) == {
        "batchItemFailures": []
    }


def _alone(tenant: str, contact_id: str, fields: dict, second: int) -> RequestCounter:
    with RequestCounter() as counted:
        _deliver([_record(tenant, contact_id, fields, second)])
    return counted


def _days(tenant: str, sid: str, first: str, last: str) -> list[tuple[str, int, int, int]]:
    stats = segment_stats(tenant, sid, date_from=first, date_to=last)
    return [(d["date"], d["added"], d["removed"], d["total"]) for d in stats["days"]]


def test_a_hundred_joins_leaves_or_both_alone_cost_five_requests(tenant, frozen_day):
    assert _alone(tenant, "c-warm", {"score": 1}, 0).dynamodb > 5  # the container's first: reads the rules
    joins = _alone(tenant, "c1", {"score": 1}, 1)  # in none -> in all 100
    assert joins.dynamodb == 5 and joins.counts["TransactWriteItems"] == 4, joins.counts
    leaves = _alone(tenant, "c1", {}, 2)  # in all 100 -> in none
    assert leaves.dynamodb == 5 and leaves.counts["TransactWriteItems"] == 4, leaves.counts
    assert _alone(tenant, "c2", {"score": 5}, 3).dynamodb == 3  # joins the 50 of A
    mixed = _alone(tenant, "c2", {"score": -5}, 4)  # leaves the 50 of A, joins the 50 of B
    assert mixed.dynamodb == 5 and mixed.counts["TransactWriteItems"] == 4, mixed.counts
    today = frozen_day.day
    for sid in A:
        assert set(memberships_repo.iter_members(tenant, sid)) == {"c-warm"}
        assert segments_repo.get(tenant, sid).member_count == 1
        assert _days(tenant, sid, today, today) == [(today, 3, 2, 1)]
    for sid in B:
        assert set(memberships_repo.iter_members(tenant, sid)) == {"c-warm", "c2"}
        assert segments_repo.get(tenant, sid).member_count == 2
        assert _days(tenant, sid, today, today) == [(today, 3, 1, 2)]
    # the day lives on the segment item: no history-day item was written
    assert _day_items(tenant, "a00") == []


def test_the_first_change_of_a_new_day_writes_the_open_day_out_and_stats_answer_as_before(tenant, frozen_day):
    first = frozen_day.day
    _alone(tenant, "c-warm", {"score": 1}, 0)
    _alone(tenant, "c1", {"score": 1}, 1)
    _alone(tenant, "c1", {}, 2)  # day one: a00 +2 -1 = 1
    second = frozen_day.advance()
    rollover = _alone(tenant, "c2", {"score": 1}, 3)  # each segment's first change of the day: 4 actions
    assert rollover.dynamodb == 6 and rollover.counts["TransactWriteItems"] == 5, rollover.counts
    assert _alone(tenant, "c2", {}, 4).dynamodb == 5  # the day is open: three actions a segment again
    third = frozen_day.advance(2)  # a day without changes in between
    _alone(tenant, "c3", {"score": 5}, 5)
    for sid in (*A, *B):
        assert _days(tenant, sid, first, third)[:2] == [(first, 2, 1, 1), (second, 1, 1, 1)], sid
    assert _days(tenant, "a00", first, third)[2:] == [(third, 1, 0, 2)]
    assert _days(tenant, "b00", first, third)[2:] == []
    stats = segment_stats(tenant, "a00", date_from=first, date_to=third)
    assert (stats["total"], stats["added"], stats["removed"]) == (2, 4, 2)
    assert _days(tenant, "a00", second, second) == [(second, 1, 1, 1)]  # a range ending before the open day


def test_a_new_container_meeting_yesterdays_open_day_reads_it_and_writes_it_out(tenant, frozen_day, monkeypatch):
    first = frozen_day.day
    _alone(tenant, "c-warm", {"score": 1}, 0)
    _alone(tenant, "c1", {"score": 1}, 1)
    second = frozen_day.advance()
    monkeypatch.setattr(apply, "KEPT", apply.KeptRules())  # a new container: knows no counts, no days
    _alone(tenant, "c2", {"score": 1}, 2)
    _alone(tenant, "c1", {}, 3)
    for sid in ("a00", "a49", "b00", "b49"):
        assert _days(tenant, sid, first, second) == [(first, 2, 0, 2), (second, 1, 1, 2)], sid
        assert segments_repo.get(tenant, sid).member_count == 2
        assert _day_items(tenant, sid) == [f"DAY#{first}#open"]  # yesterday written out once, today open


def test_lone_and_batched_changes_give_the_same_stats_with_other_writers_on_the_same_days(aws, frozen_day):
    lone, batched = _segments("t-lone"), _segments("t-batched")
    idle: dict = {}  # a contact in no segment: its record makes the invocation a batch of two

    def both(contact_id: str, fields: dict, second: int) -> None:
        _deliver([_record(lone, contact_id, fields, second)])
        _deliver([_record(batched, contact_id, fields, second), _record(batched, f"idle{second}", idle, second)])

    days = [frozen_day.day]
    both("c1", {"score": 1}, 1)
    both("c2", {"score": 5}, 2)
    for tenant in (lone, batched):  # a static change or a run moves the count and adds to the day item
        _another_writer(tenant, "a00", 3, 0, days[-1])
    both("c1", {}, 3)
    days.append(frozen_day.advance())
    both("c3", {"score": -1}, 4)
    for tenant in (lone, batched):
        _another_writer(tenant, "b00", 0, 1, days[-1])  # the last write of the day: its total stands
    days.append(frozen_day.advance())
    both("c2", {"score": 0}, 5)
    for sid in ("a00", "a01", "b00", "b01"):
        assert _days(lone, sid, days[0], days[-1]) == _days(batched, sid, days[0], days[-1]), sid
        assert segments_repo.get(lone, sid).member_count == segments_repo.get(batched, sid).member_count
    assert _days(lone, "a00", days[0], days[0]) == [(days[0], 5, 1, 4)]
    assert _days(lone, "b00", days[1], days[1]) == [(days[1], 1, 1, 0)]
    # where they live: the lone tenant's days on the segment item until the next day opens
    assert _day_items(lone, "a01") == [f"DAY#{days[0]}#open"]
    assert _day_items(batched, "a01") == [f"DAY#{days[0]}", f"DAY#{days[2]}"]


def _another_writer(tenant: str, sid: str, added: int, removed: int, day: str) -> None:
    """What a run or a static change does (``placement.record_change``), on the frozen day."""
    total = segments_repo.adjust_member_count(tenant, sid, added - removed)
    history_repo.add_day(tenant, sid, day, added, removed, total)


def _day_items(tenant: str, sid: str) -> list[str]:
    return [item.sk for item in HistoryDayItem.query(history_pk(tenant, sid))]


def test_a_run_crossing_midnight_counts_its_changes_on_the_frozen_day(tenant, frozen_day, monkeypatch):
    today = frozen_day.day

    class AfterMidnight(datetime):  # the wall clock has moved on to the next day since the test began
        @classmethod
        def now(cls, tz=None):
            return datetime.fromisoformat(today).replace(tzinfo=UTC) + timedelta(days=1, seconds=1)

    monkeypatch.setattr(apply, "datetime", AfterMidnight)
    _alone(tenant, "c1", {"score": 1}, 1)
    assert _days(tenant, "a00", today, today) == [(today, 1, 0, 1)]


def test_a_batch_whose_segment_went_meanwhile_counts_the_others_on_the_batch_day(tenant, frozen_day):
    """A segment deleted meanwhile cancels its chunk's counter transaction; the chunk's segments then go
    one request at a time, still on the day the batch counts on, not on the wall clock's."""
    from audience.realtime.batched import flush_counts

    day = "2025-01-01"  # the batch's day, long before the wall clock's
    flush_counts({(tenant, "a00"): (2, 0), (tenant, "gone"): (1, 0)}, day)
    assert segments_repo.get(tenant, "a00").member_count == 2
    assert _days(tenant, "a00", day, day) == [(day, 2, 0, 2)]
