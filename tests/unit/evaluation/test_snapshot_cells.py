"""A snapshot's columns are read by one reader per field type, the very values the per-cell reading
(``_cell``, then ``normalise``) gives, odd stored values included; a full snapshot's contacts are
built from their raw maps without being validated again."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from audience.evaluation import snapshots

ODD = [
    "",
    "x",
    "2026-12-07T13:00:00Z",
    "2026-12-07T13:00:00.123Z",
    "2026-12-07",
    "2026-12-07T13:00:00+02:00",
    "2026-13-07T13:00:00Z",
    "2026-12-07T13:00:00.12Z",
    "not a date at all!!Z",
    "2026-12-07 13:00:00Z",
    0,
    1,
    -3,
    10**400,
    2.5,
    float("nan"),
    float("inf"),
    True,
    False,
    Decimal("1.5"),
    ["a", 1],
    {"k": "v"},
    datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
    date(2026, 1, 2),
]


@pytest.mark.parametrize("kind", list(snapshots._CELLS))  # noqa: SLF001
def test_each_types_reader_gives_the_per_cell_value(kind):
    for raw in ODD:
        expected = snapshots._cell(kind, raw)  # noqa: SLF001
        got = snapshots._CELLS[kind](raw)  # noqa: SLF001
        if isinstance(expected, float) and math.isnan(expected):
            assert isinstance(got, float) and math.isnan(got), (kind, raw)
        else:
            assert got == expected and type(got) is type(expected), (kind, raw, got, expected)
        if isinstance(expected, datetime):
            assert got.tzinfo is expected.tzinfo, (kind, raw)


def test_a_full_snapshots_contact_is_not_validated_again(monkeypatch):
    def refuse(self, **_):
        raise AssertionError("validated again")

    monkeypatch.setattr(snapshots.Contact, "__init__", refuse)
    raw = {
        "sk": {"S": "c1"},
        "fields": {"M": {"score": {"N": "5"}, "city": {"S": "Lyon"}}},
        "created_at": {"S": "2026-12-07T13:00:00.000Z"},
        "updated_at": {"S": "2026-12-07T13:00:01.000Z"},
        "version": {"N": "3"},
    }
    contact = snapshots._contact_from_raw(raw)  # noqa: SLF001
    assert contact.as_row() == {
        "score": 5,
        "city": "Lyon",
        "contact_id": "c1",
        "created_at": "2026-12-07T13:00:00.000Z",
        "updated_at": "2026-12-07T13:00:01.000Z",
    }
    assert (contact.version, contact.erased) == (3, False)
