"""Through the stream and ``?live=true``: categories, suppression and activity rules place a
contact exactly as SPEC §1 says; the live answer writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from audience.eventlog import append_events, events_table
from audience.storage import memberships_repo
from test_stream_membership import HIGH, create_segment, members, put_contact


def live(api_call, tenant, contact_id):
    response = api_call("GET", f"/contacts/{contact_id}/segments", tenant=tenant, query={"live": "true"})
    assert response.status == 200, response.text
    return {s["id"] for s in response.json["items"]}


def test_category_priority_and_suppression_apply_to_stream_and_live_answers(api_call, tenant, stream):
    assert api_call("POST", "/categories", tenant=tenant, body={"name": "tier"}).status == 201
    gold = create_segment(api_call, tenant, "Gold", HIGH, category="tier", priority=1)
    silver = create_segment(api_call, tenant, "Silver", {"field": "score", "op": "gte", "value": 20},
                            category="tier", priority=2)
    audit = create_segment(api_call, tenant, "Audit", {"field": "score", "op": "gte", "value": 0},
                           ignore_suppression=True)
    settings = {"received_at_least_never_clicked": {"enabled": True, "min_received": 3}}
    assert api_call("PUT", "/settings/suppression", tenant=tenant, body=settings).status == 200
    put_contact(api_call, tenant, "c1", score=80)
    put_contact(api_call, tenant, "c2", score=30)
    put_contact(api_call, tenant, "c3", score=90, sent_count=5, clicks_count=0)  # suppressed
    assert live(api_call, tenant, "c1") == {gold, audit}
    assert memberships_repo.segments_of(tenant, "c1") == []  # live wrote nothing
    stream.flush()
    assert members(tenant, gold) == {"c1"}
    assert members(tenant, silver) == {"c2"}
    assert members(tenant, audit) == {"c1", "c2", "c3"}  # opts out of suppression
    assert {c: live(api_call, tenant, c) for c in ("c1", "c2", "c3")} == {
        "c1": {gold, audit}, "c2": {silver, audit}, "c3": {audit}
    }


def test_activity_rules_read_the_event_log_window(api_call, tenant, stream, s3, aws):
    buyers = create_segment(api_call, tenant, "Recent buyers", {"event": "purchase", "within_last_days": 30})
    now = datetime.now(UTC)
    rows = [("c1", "purchase", now - timedelta(days=2), {}), ("c2", "purchase", now - timedelta(days=45), {})]
    append_events(tenant, events_table(rows), s3, batch_id="b1")
    put_contact(api_call, tenant, "c1", score=1)
    put_contact(api_call, tenant, "c2", score=1)
    stream.flush()
    assert members(tenant, buyers) == {"c1"}
    assert live(api_call, tenant, "c2") == set()
    assert live(api_call, tenant, "c1") == {buyers}
