"""Per-batch integer forms the masks' lookups work on: equally long ids read as the numbers their
last bytes make (`vectorised._tail_numbers`, which `_same_width_positions` binary-searches) and a list
column's items numbered among the items the run's list leaves ask for (`_ListItems._numbered`).
Both are read from Arrow's buffers in place; they must order, equal and number exactly as the values do."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from audience.rules import vectorised as v
from hypothesis import given, settings
from hypothesis import strategies as st

DIGITS = "0123456789abcdef"
ZEROS = np.zeros
FILL_NULL = pc.fill_null


@settings(max_examples=300, deadline=None)
@given(prefix=st.text(alphabet="xyz0\u00e9", max_size=6), width=st.integers(1, 12),
       tails=st.lists(st.integers(0, 2**40), min_size=1, max_size=40), offset=st.integers(0, 5))
def test_tail_numbers_order_and_equal_as_the_ids_bytes_do(prefix, width, tails, offset):
    # every id one width, one shared prefix, differing in at most their last 8 bytes (what the search asks)
    tail = min(width, 8)
    digits = ["".join(DIGITS[(t >> (4 * k)) % 16] for k in range(tail))[::-1] for t in tails]
    texts = ["pad"] * offset + [prefix + d.rjust(width, "0") for d in digits]
    values = pa.array(texts, pa.string()).slice(offset)
    size = len(values[0].as_py().encode())
    shared = size - tail
    shapes: list = []
    def zeros(shape, *args, **kwargs):
        shapes.append(shape)
        return ZEROS(shape, *args, **kwargs)

    with mock.patch.object(np, "zeros", side_effect=zeros):
        numbers = v._tail_numbers(values, size, shared)
    if size >= 8:  # read in place: no zeroed row per id (before: a (rows, 8) matrix each batch)
        assert shapes == []
    assert numbers.dtype == np.uint64 and len(numbers) == len(tails)
    raw = [t.encode() for t in texts[offset:]]
    for i in range(len(raw)):
        for j in range(len(raw)):
            assert (numbers[i] < numbers[j]) == (raw[i] < raw[j])
            assert (numbers[i] == numbers[j]) == (raw[i] == raw[j])


def test_long_ids_tail_numbers_are_read_in_place_without_a_zeroed_row_each(monkeypatch):
    # guard (pure speed): before, every batch's ids were copied into a zeroed (rows, 8) matrix first
    values = pa.array([f"c{n:09d}" for n in range(1_000)], pa.string())
    shapes: list = []
    original = np.zeros

    def zeros(shape, *args, **kwargs):
        shapes.append(shape)
        return original(shape, *args, **kwargs)

    monkeypatch.setattr(np, "zeros", zeros)
    numbers = v._tail_numbers(values, 10, 4)
    assert shapes == []
    assert bool(np.all(numbers[1:] > numbers[:-1]))


@settings(max_examples=200, deadline=None)
@given(items=st.lists(st.one_of(st.none(), st.sampled_from(["VIP", "vip", "trial", "beta", "x", ""])),
                      min_size=0, max_size=40),
       offset=st.integers(0, 4))
def test_list_items_numbers_equal_the_hash_lookup_filled_with_the_count(items, offset):
    wanted = {"vip": 0, "trial": 1, "": 2}
    flat = pa.array(["pad"] * offset + items, pa.string()).slice(offset)
    offsets = pa.array([0, len(items)], pa.int32())
    listed = v._ListItems(flat, offsets.slice(0, 1), offsets.slice(1, 1), wanted)
    filled: list = []
    with mock.patch.object(pc, "fill_null", side_effect=lambda *a, **k: filled.append(1) or FILL_NULL(*a, **k)):
        numbers, rows = listed._numbered()
    assert filled == []  # the lookup's nulls are counted in place (before: Arrow's fill_null each batch)
    expected = pc.fill_null(pc.index_in(flat, value_set=pa.array(list(wanted), pa.string())), len(wanted))
    assert numbers.tolist() == expected.to_pylist()
    assert rows.tolist() == [0] * len(items)


def test_list_items_are_numbered_without_filling_the_lookups_nulls(monkeypatch):
    # guard (pure speed): before, the lookup's nulls (unwanted items) were filled by Arrow's fill_null per batch
    filled: list[int] = []
    original = pc.fill_null
    monkeypatch.setattr(pc, "fill_null",
                        lambda values, *a, **k: filled.append(len(values)) or original(values, *a, **k))
    flat = pa.array(["vip", "other", None, "trial"] * 300, pa.string())
    offsets = pa.array(np.arange(0, 1_201, 4, dtype=np.int32))
    listed = v._ListItems(flat, offsets.slice(0, 300), offsets.slice(1, 300), {"vip": 0, "trial": 1})
    assert listed.has(["trial"]).to_pylist() == [True] * 300
    assert listed.has(["vip"]).to_pylist() == [True] * 300
    assert filled == []
    numbers, _ = listed._numbered()
    assert numbers[:4].tolist() == [0, 2, 2, 1]
