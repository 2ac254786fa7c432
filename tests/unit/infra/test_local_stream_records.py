"""The local stream poller's records as Lambda hands them to the function."""

from __future__ import annotations

import uuid

from infra import local_triggers
from infra.local_triggers import stream_event_record

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"


def record(**extra):
    return {
        "eventName": "INSERT",
        "dynamodb": {"Keys": {"pk": {"S": "t"}}, "ApproximateCreationDateTime": 1796651454.123},
        **extra,
    }


def test_a_record_keeps_its_event_id_and_no_random_id_is_drawn_for_it(monkeypatch):
    def no_draw():
        raise AssertionError("a random event id was drawn for a record that has one")

    monkeypatch.setattr(local_triggers.uuid, "uuid4", no_draw)
    handed = stream_event_record(record(eventID="abc123"), ARN, "us-east-1", as_sent=True)
    assert handed["eventID"] == "abc123"
    assert handed["dynamodb"]["ApproximateCreationDateTime"] == 1796651454


def test_a_record_without_an_event_id_gets_a_new_one_each_time():
    first = stream_event_record(record(), ARN, "us-east-1", as_sent=True)["eventID"]
    second = stream_event_record(record(), ARN, "us-east-1", as_sent=True)["eventID"]
    assert first != second and uuid.UUID(hex=first) and uuid.UUID(hex=second)
