"""The stream reads each contact image as a raw map: the same change as the pynamodb model gives, for
every kind of value a contact's fields can hold, without building the model per record."""

from __future__ import annotations

import pytest
from audience.realtime import changes
from audience.realtime.changes import change_from_images
from audience.storage.models import ContactItem

KEYS = {"pk": {"S": "t1"}, "sk": {"S": "c1"}}
FIELDS = [
    {},
    {"email": "a@example.com", "score": 42, "neg": -7, "zero": 0, "big": 10**30, "huge": 10**50},
    {"ratio": 0.25, "whole_float": 3.0, "tiny": 1e-20, "neg_float": -2.5, "exp": 1e50},
    {"subscribed": True, "vip": False, "phone": None, "empty": "", "unicode": "Zoë ²"},
    {"tags": ["vip", "b2b"], "nested": {"a": [1, 2.5, {"b": None}], "c": {"d": True}}, "list_empty": []},
]


def _model_change(image: dict):
    """What the stream read before: the image through ``ContactItem``."""
    item = ContactItem.from_raw_data(image)
    fields = None if item.erased else dict(item.fields or {})
    return item.updated_at, fields


@pytest.mark.parametrize("fields", FIELDS)
@pytest.mark.parametrize("erased", [False, True])
def test_a_raw_image_reads_as_the_contact_model_reads_it(fields, erased):
    item = ContactItem(
        "t1",
        "c1",
        fields=fields,
        created_at="2025-01-01T00:00:00.000Z",
        updated_at="2025-06-01T12:00:00.000Z",
        erased=erased,
        gsi1pk="t1",
        gsi1sk="x",
        version=3,
    )
    image = item.serialize()
    change = change_from_images(KEYS, image, None)
    updated_at, expected = _model_change(image)
    assert (change.changed_at, change.fields) == (updated_at, expected)
    if expected is not None:
        assert [type(v) for v in change.fields.values()] == [type(v) for v in expected.values()]


def test_images_without_fields_or_erased_flag_and_removals():
    image = {"pk": {"S": "t1"}, "sk": {"S": "c1"}, "updated_at": {"S": "2025-06-01T12:00:00.000Z"}}
    assert change_from_images(KEYS, image, None).fields == {}
    assert change_from_images(KEYS, {**image, "fields": {"NULL": True}}, None).fields == {}
    assert change_from_images(KEYS, None, None).erased


def test_numbers_in_every_spelling_read_as_the_model_reads_them():
    spellings = ["1", "-1", "10", "1.0", "1.50", "1E+2", "1e-3", "-0", "123456789012345678901234567890", "0.1"]
    image = {
        "pk": {"S": "t1"},
        "sk": {"S": "c1"},
        "updated_at": {"S": "2025-06-01T12:00:00.000Z"},
        "fields": {"M": {f"n{i}": {"N": text} for i, text in enumerate(spellings)}},
    }
    got = change_from_images(KEYS, image, None).fields
    _, expected = _model_change(image)
    assert got == expected and [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def test_string_sets_read_as_the_model_reads_them():
    image = {
        "pk": {"S": "t1"},
        "sk": {"S": "c1"},
        "updated_at": {"S": "2025-06-01T12:00:00.000Z"},
        "fields": {"M": {"s": {"SS": ["a"]}, "n": {"NS": ["2"]}}},
    }
    assert change_from_images(KEYS, image, None).fields == _model_change(image)[1] == {"s": ["a"], "n": [2]}


def test_the_stream_does_not_build_a_contact_model_per_record(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a ContactItem was built for a stream record")

    monkeypatch.setattr(ContactItem, "from_raw_data", classmethod(refuse))
    image = ContactItem(
        "t1",
        "c1",
        fields=FIELDS[4],
        created_at="x",
        updated_at="2025-06-01T12:00:00.000Z",
        gsi1pk="t1",
        gsi1sk="x",
        version=1,
    ).serialize()
    monkeypatch.setattr(changes, "ContactItem", ContactItem, raising=False)
    assert change_from_images(KEYS, image, None).fields == FIELDS[4]
