"""Whole-column rendering (``arrow_cells``) writes exactly what the per-value rules (``cells``) write."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pyarrow as pa
from audience.exports.arrow_cells import batch_rows, csv_lines, neutralised, text_column
from audience.exports.cells import as_text, neutralise_formula
from audience.fields import FieldType
from hypothesis import given, settings
from hypothesis import strategies as st

NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**17), 10**17).map(float),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda v: round(v, 2)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), NUMBERS), max_size=40))
def test_numbers_render_as_the_per_value_rule(values):
    rendered = text_column(pa.array(values, pa.float64()), FieldType.NUMBER).to_pylist()
    assert rendered == [as_text(v, FieldType.NUMBER) for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=30))
def test_text_is_neutralised_as_the_per_value_rule(values):
    rendered = neutralised(text_column(pa.array(values, pa.string()), FieldType.STRING)).to_pylist()
    assert rendered == [neutralise_formula(as_text(v, FieldType.STRING)) for v in values]


def test_lists_booleans_dates_and_datetimes():
    tags = pa.array([["a", "b"], [], None, ["=x", None]], pa.list_(pa.string()))
    assert text_column(tags, FieldType.LIST).to_pylist() == ["a, b", "", "", "=x, "]
    assert text_column(tags.slice(1), FieldType.LIST).to_pylist() == ["", "", "=x, "]
    assert text_column(pa.array([True, False, None]), FieldType.BOOLEAN).to_pylist() == ["true", "false", ""]
    days = pa.array([datetime(2026, 2, 1).date(), None], pa.date32())
    assert text_column(days, FieldType.DATE).to_pylist() == ["2026-02-01", ""]
    moments = [datetime(2025, 3, 1, 12, tzinfo=UTC), datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC),
               datetime(1969, 12, 31, 23, 59, 59, 123_456, tzinfo=UTC)]
    column = pa.array([*moments, None], pa.timestamp("us", tz="UTC"))
    assert text_column(column, FieldType.DATETIME).to_pylist() == [
        "2025-03-01T12:00:00Z", "2025-03-01T12:00:00.250Z", "1969-12-31T23:59:59.123456Z", ""]
    rows = batch_rows(pa.record_batch({"at": column, "n": pa.array([3.0, 2.5, None, -1.0])}), ["at", "n"],
                      {"at": FieldType.DATETIME, "n": FieldType.NUMBER})
    assert rows[0] == {"at": "2025-03-01T12:00:00Z", "n": 3} and isinstance(rows[0]["n"], int)
    assert rows[1]["n"] == 2.5 and rows[3] == {"at": None, "n": -1}


CELL_TEXT = st.text(alphabet=st.sampled_from(list('ab ,"\r\n=+-@\té')), max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3).flatmap(lambda width: st.lists(st.lists(CELL_TEXT, min_size=width, max_size=width),
                                                        min_size=1, max_size=12)))
def test_csv_lines_are_what_pythons_csv_module_writes(rows):
    columns = [pa.array([row[i] for row in rows], pa.string()) for i in range(len(rows[0]))]
    buffer = io.StringIO()
    csv.writer(buffer, dialect="excel").writerows(rows)
    assert bytes(csv_lines(columns, len(rows))) == buffer.getvalue().encode("utf-8")
