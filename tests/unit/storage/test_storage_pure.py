"""Pure storage helpers: document round trips, page collection, start-key checks, settings binding."""

import math

import pytest
from audience.errors import BadRequest
from audience.settings import get_settings
from audience.storage.attributes import DocumentAttribute
from audience.storage.paging import check_start_key, collect


def test_document_round_trip_keeps_json_types():
    doc = {"all": [{"field": "age", "op": "between", "value": [18, 30.5]}], "n": None, "b": True, "s": ""}
    attribute = DocumentAttribute()
    back = attribute.deserialize(attribute.serialize(doc))
    assert back == doc
    assert isinstance(back["all"][0]["value"][0], int) and isinstance(back["all"][0]["value"][1], float)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_document_refuses_non_finite_numbers(bad):
    with pytest.raises(ValueError):
        DocumentAttribute().serialize({"x": bad})


def test_collect_stops_at_limit_and_points_after_the_last_kept_item():
    items = list(range(10))
    page = collect(items, 3, key_of=lambda i: {"pk": "p", "sk": str(i)}, keep=lambda i: i % 2 == 0)
    assert page.items == [0, 2, 4] and page.next_key == {"pk": "p", "sk": "4"}
    last = collect(items, 5, key_of=lambda i: {"pk": "p", "sk": str(i)}, keep=lambda i: i % 2 == 0)
    assert last.items == [0, 2, 4, 6, 8] and last.next_key is None


@pytest.mark.parametrize(
    "key",
    [
        {"pk": "T#other", "sk": "SEG#1"},
        {"pk": "T#me", "sk": "JOB#1"},
        {"pk": "T#me"},
        "x",
        {"pk": "T#me", "sk": 3},
    ],
)
def test_start_key_outside_the_callers_range_is_rejected(key):
    with pytest.raises(BadRequest):
        check_start_key(key, "T#me", "SEG#")


def test_start_key_inside_the_range_becomes_a_dynamo_key():
    assert check_start_key({"pk": "T#me", "sk": "SEG#1"}, "T#me", "SEG#") == {
        "pk": {"S": "T#me"},
        "sk": {"S": "SEG#1"},
    }


def test_models_read_table_names_and_endpoint_at_call_time(monkeypatch):
    from audience.storage.models import ContactItem, SegmentItem

    monkeypatch.setenv("MAIN_TABLE", "main-a")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    get_settings.cache_clear()
    try:
        assert SegmentItem.Meta.table_name == "main-a"
        assert SegmentItem._get_connection().table_name == "main-a"
        assert SegmentItem._get_connection().connection.host == "http://127.0.0.1:5999"
        monkeypatch.setenv("MAIN_TABLE", "main-b")
        monkeypatch.setenv("CONTACTS_TABLE", "contacts-b")
        get_settings.cache_clear()
        assert SegmentItem._get_connection().table_name == "main-b"
        assert ContactItem._get_connection().table_name == "contacts-b"
    finally:
        get_settings.cache_clear()


def test_new_ids_are_unique_and_sort_by_creation_time():
    import time

    from audience.storage.base import new_id

    first = new_id()
    time.sleep(0.002)
    later = [new_id() for _ in range(50)]
    assert all(first < other for other in later)
    assert len(set(later)) == 50 and all(len(i) == 32 and int(i, 16) >= 0 for i in later)
