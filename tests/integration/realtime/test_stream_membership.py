"""A contact's dynamic memberships, counts and history follow each change through the stream,
with no scheduled run; erasure removes everything; stale, replayed and reordered records converge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from audience.realtime import stamps
from audience.segments.placement import place
from audience.storage import history_repo, memberships_repo, segments_repo


def create_segment(api_call, tenant, name, rules=None, **fields):
    body = {"name": name, "type": "dynamic" if rules else "static", **fields}
    if rules:
        body["rules"] = rules
    response = api_call("POST", "/segments", tenant=tenant, body=body)
    assert response.status == 201, response.text
    return response.json["id"]


def put_contact(api_call, tenant, contact_id, **fields):
    response = api_call("PUT", f"/contacts/{contact_id}", tenant=tenant, body=fields)
    assert response.status in (200, 201), response.text


def members(tenant, segment_id):
    return set(memberships_repo.iter_members(tenant, segment_id))


def count(tenant, segment_id):
    return segments_repo.get(tenant, segment_id).member_count


def history(tenant, segment_id, day):
    """The day's history of the segment (``day``: the test's ``frozen_day``, the stream path's today)."""
    return [(d.added, d.removed, d.total) for d in history_repo.range(tenant, segment_id, day, day)]


HIGH = {"field": "score", "op": "gte", "value": 50}


def test_contact_updates_move_dynamic_memberships_counts_and_history_without_a_run(
    api_call, tenant, stream, frozen_day
):
    high = create_segment(api_call, tenant, "High", HIGH)
    low = create_segment(api_call, tenant, "Low", {"field": "score", "op": "lt", "value": 50})
    put_contact(api_call, tenant, "c1", score=10)
    put_contact(api_call, tenant, "c2", score=70)
    assert stream.flush() == {"batchItemFailures": []}
    assert (members(tenant, high), members(tenant, low)) == ({"c2"}, {"c1"})
    assert (count(tenant, high), count(tenant, low)) == (1, 1)

    put_contact(api_call, tenant, "c1", score=90)
    stream.flush()
    assert (members(tenant, high), members(tenant, low)) == ({"c1", "c2"}, set())
    assert (count(tenant, high), count(tenant, low)) == (2, 0)
    assert history(tenant, high, frozen_day.day) == [(2, 0, 2)]
    assert history(tenant, low, frozen_day.day) == [(1, 1, 0)]
    segments = api_call("GET", "/contacts/c1/segments", tenant=tenant).json["items"]
    assert [(s["id"], s["source"]) for s in segments] == [(high, "dynamic")]


def test_an_unrelated_change_writes_nothing(api_call, tenant, stream, frozen_day):
    high = create_segment(api_call, tenant, "High", HIGH)
    put_contact(api_call, tenant, "c1", score=10, city="Oslo")
    stream.flush()
    put_contact(api_call, tenant, "c1", score=20, city="Bergen")
    stream.flush()
    assert members(tenant, high) == set()
    assert history(tenant, high, frozen_day.day) == []  # no change, no history day, no count write


def test_erasing_a_contact_removes_every_membership(api_call, tenant, stream):
    high = create_segment(api_call, tenant, "High", HIGH)
    vip = create_segment(api_call, tenant, "VIP list")
    put_contact(api_call, tenant, "c1", score=80)
    stream.flush()
    place(tenant, segments_repo.get(tenant, vip), ["c1"])
    assert api_call("DELETE", "/contacts/c1", tenant=tenant).status == 204
    erase_records = stream.take()
    # a writer racing the erasure put a membership back before the stream record arrived
    place(tenant, segments_repo.get(tenant, vip), ["c1"])
    stream.deliver(erase_records)
    assert members(tenant, high) == set() and members(tenant, vip) == set()
    assert (count(tenant, high), count(tenant, vip)) == (0, 0)
    assert memberships_repo.segments_of(tenant, "c1") == []


def test_replayed_and_out_of_order_records_leave_the_newest_state(api_call, tenant, stream, frozen_day):
    high = create_segment(api_call, tenant, "High", HIGH)
    put_contact(api_call, tenant, "c1", score=80)
    [first] = stream.take()
    put_contact(api_call, tenant, "c1", score=10)
    [second] = stream.take()
    put_contact(api_call, tenant, "c1", score=60)
    [third] = stream.take()

    stream.deliver([third])
    assert members(tenant, high) == {"c1"}
    stream.deliver([second, first])  # late and out of order: older than what was applied
    assert members(tenant, high) == {"c1"} and count(tenant, high) == 1
    stream.deliver([first, second, third, third])  # the whole history replayed, newest last
    assert members(tenant, high) == {"c1"} and count(tenant, high) == 1
    assert history(tenant, high, frozen_day.day) == [(1, 0, 1)]

    put_contact(api_call, tenant, "c1", score=5)
    [fourth] = stream.take()
    stream.deliver([fourth, third])
    assert members(tenant, high) == set() and count(tenant, high) == 0


def test_a_record_older_than_the_last_scheduled_run_does_not_undo_its_result(api_call, tenant, stream):
    high = create_segment(api_call, tenant, "High", HIGH)
    put_contact(api_call, tenant, "c1", score=10)
    late = stream.take()  # the run below saw this image already
    # a scheduled run evaluated after that change and (say, at a later image) put c1 in the segment
    memberships_repo.add_many(tenant, high, ["c1"], source="dynamic")
    run_as_of = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    segments_repo.record_evaluation(tenant, high, member_count=1, evaluated_at=run_as_of)
    stream.deliver(late)
    assert members(tenant, high) == {"c1"} and count(tenant, high) == 1


def test_a_membership_stamped_by_a_newer_change_survives_an_older_removal(tenant, aws):
    stamps.add(tenant, "seg", "c1", None, "2024-05-02T00:00:00.000Z")
    assert not stamps.remove(tenant, "seg", "c1", "2024-05-01T00:00:00.000Z")
    assert not stamps.add(tenant, "seg", "c1", None, "2024-05-03T00:00:00.000Z")  # already there
    assert stamps.remove(tenant, "seg", "c1", "2024-05-02T00:00:00.000Z")
    assert stamps.claim(tenant, "c1", "2024-05-02T00:00:00.000Z")
    assert not stamps.claim(tenant, "c1", "2024-05-01T00:00:00.000Z")
    assert list(stamps.changed_after(tenant, "2024-05-01T00:00:00.000Z")) == [("c1", "2024-05-02T00:00:00.000Z")]
    assert memberships_repo.segments_of(tenant, "c1") == []  # watermarks stay out of by_contact


def test_one_in_one_out_in_a_batch_keeps_the_count_and_records_both_in_history(api_call, tenant, stream, frozen_day):
    high = create_segment(api_call, tenant, "High", HIGH)
    put_contact(api_call, tenant, "c1", score=80)
    stream.flush()
    put_contact(api_call, tenant, "c1", score=10)
    put_contact(api_call, tenant, "c2", score=90)
    assert stream.flush() == {"batchItemFailures": []}
    assert members(tenant, high) == {"c2"} and count(tenant, high) == 1
    assert history(tenant, high, frozen_day.day) == [(2, 1, 1)]
