"""`lookup_first` (event properties read once per key for the whole log) answers exactly as Arrow's
`map_lookup(..., "first")`: duplicate keys, missing keys, null values, empty and null maps (null maps
that still own entries, as Parquet readers produce them), sliced and chunked logs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from audience.rules.vectorised import lookup_first, lookup_rows
from hypothesis import given, settings
from hypothesis import strategies as st

KEYS = ["amount", "url", "campaign", ""]
entries = st.lists(st.tuples(st.sampled_from(KEYS), st.one_of(st.none(), st.text(max_size=3))), max_size=4)


@st.composite
def maps(draw) -> pa.Array:
    rows = draw(st.lists(entries, max_size=12))
    nulls = [draw(st.booleans()) for _ in rows]
    offsets, keys, values = [0], [], []
    for row in rows:
        keys += [k for k, _ in row]
        values += [v for _, v in row]
        offsets.append(len(keys))
    array = pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(keys, pa.string()),
                                    pa.array(values, pa.string()), mask=pa.array(nulls, pa.bool_()))
    start = draw(st.integers(0, len(rows)))
    array = array.slice(start, draw(st.integers(0, len(rows) - start)))
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
@given(log=maps(), key=st.sampled_from(KEYS + ["absent"]), chosen=st.lists(st.booleans(), max_size=12))
def test_lookup_rows_is_lookup_first_of_the_maps_taken(log, key, chosen):
    """What the activity slices use: only some events' maps, looked up without copying them first."""
    log = log.combine_chunks() if isinstance(log, pa.ChunkedArray) else log
    rows = np.array([n for n, pick in zip(range(len(log)), chosen, strict=False) if pick], np.int64)
    expected = lookup_first(log.take(pa.array(rows, pa.int64())), key)
    assert lookup_rows(log, rows, key).to_pylist() == expected.to_pylist()
