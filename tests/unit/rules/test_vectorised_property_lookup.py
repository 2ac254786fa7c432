"""`lookup_first` (event properties read once per key for the whole log) answers exactly as Arrow's
`map_lookup(..., "first")`: duplicate keys, missing keys, null values, empty and null maps (null maps
that still own entries, as Parquet readers produce them), sliced and chunked logs; `key_values` (what
the activity slices use) gives the same values, with keys and values plain or dictionary-encoded."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from audience.rules.vectorised import key_values, lookup_first
from hypothesis import given, settings
from hypothesis import strategies as st

KEYS = ["amount", "url", "campaign", ""]
entries = st.lists(st.tuples(st.sampled_from(KEYS), st.one_of(st.none(), st.text(max_size=3))), max_size=4)


@st.composite
def maps(draw, encodings: bool = False) -> pa.Array:
    rows = draw(st.lists(entries, max_size=12))
    nulls = [draw(st.booleans()) for _ in rows]
    offsets, keys, values = [0], [], []
    for row in rows:
        keys += [k for k, _ in row]
        values += [v for _, v in row]
        offsets.append(len(keys))
    keys, values = pa.array(keys, pa.string()), pa.array(values, pa.string())
    if encodings and draw(st.booleans()):  # as a Parquet reader hands them over with read_dictionary
        keys = pc.dictionary_encode(keys)
    if encodings and draw(st.booleans()):
        values = pc.dictionary_encode(values)
    array = pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), keys, values, mask=pa.array(nulls, pa.bool_()))
    start = draw(st.integers(0, len(rows)))
    array = array.slice(start, draw(st.integers(0, len(rows) - start)))
    if encodings:
        return array
    cut = draw(st.integers(0, len(array)))
    return pa.chunked_array([array.slice(0, cut), array.slice(cut)]) if draw(st.booleans()) else array


@settings(max_examples=400, deadline=None)
@given(log=maps(), key=st.sampled_from(KEYS + ["absent"]))
def test_lookup_first_is_map_lookup_first(log, key):
    expected = pc.map_lookup(log, pa.scalar(key), "first")
    expected = expected.combine_chunks() if isinstance(expected, pa.ChunkedArray) else expected
    assert lookup_first(log, key).to_pylist() == expected.to_pylist()


def test_a_null_map_owning_entries_has_no_value():
    log = pa.MapArray.from_arrays(pa.array([0, 2, 3], pa.int32()), pa.array(["a", "a", "a"]), pa.array(["1", "2", "3"]),
                                  mask=pa.array([True, False]))
    assert log.to_pylist() == [None, [("a", "3")]]
    assert lookup_first(log, "a").to_pylist() == [None, "3"]


@settings(max_examples=400, deadline=None)
@given(log=maps(encodings=True), key=st.sampled_from(KEYS + ["absent"]), chosen=st.one_of(
    st.none(), st.lists(st.booleans(), max_size=12)))
def test_key_values_are_lookup_first_of_the_maps_taken_plain_or_dictionary_encoded(log, key, chosen):
    """What the activity slices use: some events' maps (``rows``; None: all), their keys and values as
    a Parquet reader hands them over (plain or dictionary-encoded), looked up without copying the maps."""
    plain = log.cast(pa.map_(pa.string(), pa.string()))
    if chosen is None:
        rows, expected = None, lookup_first(plain, key)
    else:
        rows = np.array([n for n, pick in zip(range(len(log)), chosen, strict=False) if pick], np.int64)
        expected = lookup_first(plain.take(pa.array(rows, pa.int64())), key)
    index, values = key_values(log, key, rows)
    assert [values[int(n)].as_py() if n >= 0 else None for n in index] == expected.to_pylist()
