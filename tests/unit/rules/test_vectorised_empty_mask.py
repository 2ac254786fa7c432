"""`empty_mask` (SPEC §2: missing, "", NaN, an empty list) answers row by row as the definition says, on
plain and dictionary-encoded columns alike, and a dictionary column is decided per distinct value
rather than by comparing every row's decoded string."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc
from audience.fields import FieldType
from audience.rules.vectorised import empty_mask
from hypothesis import given, settings
from hypothesis import strategies as st

TEXTS = st.one_of(st.none(), st.sampled_from(["", "a", "b", "İ", " ", "x"]))


def _expected(field_type: FieldType, values: list) -> list[bool]:
    def empty(value) -> bool:
        if value is None:
            return True
        if field_type is FieldType.STRING:
            return value == ""
        if field_type is FieldType.NUMBER:
            return math.isnan(value)
        if field_type is FieldType.LIST:
            return len(value) == 0
        return False

    return [empty(v) for v in values]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(TEXTS, max_size=40), offset=st.integers(0, 5), index_type=st.sampled_from([pa.int8(), pa.int32()])
)
def test_a_dictionary_columns_empty_mask_is_the_decoded_columns(values, offset, index_type):
    plain = pa.array(values, pa.string())
    encoded = plain.dictionary_encode()
    encoded = pa.DictionaryArray.from_arrays(encoded.indices.cast(index_type), encoded.dictionary)
    start = min(offset, len(values))
    expected = _expected(FieldType.STRING, values[start:])
    for column in (plain.slice(start), encoded.slice(start)):
        found = empty_mask(FieldType.STRING, column)
        assert found.type == pa.bool_() and found.null_count == 0
        assert found.to_pylist() == expected


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.sampled_from([math.nan, 0.0, 1.5, -2.0])), max_size=30))
def test_a_number_is_empty_when_missing_or_nan(values):
    found = empty_mask(FieldType.NUMBER, pa.array(values, pa.float64()))
    assert found.null_count == 0 and found.to_pylist() == _expected(FieldType.NUMBER, values)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.lists(st.sampled_from(["a", ""]), max_size=2)), max_size=30))
def test_a_list_is_empty_when_missing_or_without_items(values):
    found = empty_mask(FieldType.LIST, pa.array(values, pa.list_(pa.string())))
    assert found.null_count == 0 and found.to_pylist() == _expected(FieldType.LIST, values)


def test_a_dictionary_columns_empty_mask_compares_only_its_distinct_values(monkeypatch):
    rows = 10_000
    column = pa.array((["fr", "de", None, ""] * rows)[:rows], pa.string()).dictionary_encode()
    compared: list[int] = []
    real_equal = pc.equal

    def equal(left, right, *args, **kwargs):
        compared.append(len(left) if hasattr(left, "__len__") else 1)
        return real_equal(left, right, *args, **kwargs)

    monkeypatch.setattr(pc, "equal", equal)
    found = empty_mask(FieldType.STRING, column)
    assert found.to_pylist() == [v is None or v == "" for v in column.to_pylist()]
    # the dictionary's four values compared to "", then one comparison of the indices to the empty one
    assert compared and compared[0] == len(column.dictionary)
    assert all(n in (len(column.dictionary), rows) for n in compared) and compared.count(rows) <= 1



@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(TEXTS, st.text(max_size=4)), min_size=1, max_size=40), offset=st.integers(0, 11))
def test_a_long_plain_string_columns_empty_mask_is_read_from_its_offsets_and_validity(values, offset):
    # guard (pure speed): before, every long string column was compared with "" by Arrow's kernel
    long = (values * (1_100 // len(values) + 1))[:1_100]
    column = pa.array(["pad", None, "", "x"] * 3 + long, pa.string()).slice(offset)
    compared: list[int] = []
    equal = pc.equal
    pc.equal = lambda left, right, *a, **k: compared.append(len(left)) or equal(left, right, *a, **k)
    try:
        found = empty_mask(FieldType.STRING, column)
    finally:
        pc.equal = equal
    assert compared == []
    assert found.null_count == 0
    assert found.to_pylist() == _expected(FieldType.STRING, column.to_pylist())
    assert found.equals(pc.or_kleene(pc.equal(column, ""), pc.is_null(column)))  # the old Arrow path's mask
