"""Key sets (``audience.keysets``) answer exactly what Python sets of the same keys answer."""

from __future__ import annotations

import numpy as np
from audience.keysets import KeySet, union
from hypothesis import given, settings
from hypothesis import strategies as st

keys = st.lists(st.integers(min_value=0, max_value=300), max_size=60)


@settings(max_examples=300, deadline=None)
@given(one=keys, other=keys, probe=st.lists(st.integers(min_value=0, max_value=400), max_size=40),
       one_size=st.integers(min_value=0, max_value=320), other_size=st.integers(min_value=0, max_value=320))
def test_key_sets_behave_as_python_sets(one, other, probe, one_size, other_size):
    a, b = KeySet.of(np.array(one, np.uint32), one_size), KeySet.of(other, other_size)
    assert a.keys().tolist() == sorted(set(one)) and a.keys().dtype == np.uint32
    assert len(a) == len(set(one))
    assert (a | b).keys().tolist() == sorted(set(one) | set(other))
    assert (a & b).keys().tolist() == sorted(set(one) & set(other))
    assert (a - b).keys().tolist() == sorted(set(one) - set(other))
    assert (b - a).keys().tolist() == sorted(set(other) - set(one))
    assert a.contains(np.array(probe, np.uint32)).tolist() == [k in set(one) for k in probe]
    assert a.contains(probe).tolist() == [k in set(one) for k in probe]
    assert (a == KeySet.of(sorted(set(one)), 0)) and union([a, b]) == a | b
    assert KeySet.from_flags(a.flags()) == a


def test_an_empty_set_contains_nothing_and_sizes_combine():
    empty = KeySet.empty()
    assert len(empty) == 0 and empty.contains([0, 5]).tolist() == [False, False]
    grown = empty | KeySet.of([9])
    assert grown.size == 10 and grown.keys().tolist() == [9]
    assert KeySet.of([3], 10_000_000).bits.nbytes == 1_250_000  # one bit per key of the key space


@settings(max_examples=300, deadline=None)
@given(flags=st.lists(st.booleans(), max_size=70), offset=st.integers(min_value=0, max_value=9),
       size=st.integers(min_value=0, max_value=90))
def test_a_packed_arrow_mask_becomes_the_set_of_its_true_positions(flags, offset, size):
    """Arrow's boolean buffer (little bit order, garbage allowed past the length) is copied as the
    bitmap: the set is the mask's true positions, whatever the bits after them."""
    import pyarrow as pa

    mask = pa.array([True] * offset + flags + [True] * 5, pa.bool_()).slice(offset, len(flags))
    whole = pa.concat_arrays([mask])  # concatenation rewrites the bits from offset 0
    packed = np.frombuffer(whole.buffers()[1], np.uint8) if len(whole) else np.zeros(0, np.uint8)
    found = KeySet.from_packed(packed, len(whole), size)
    assert found == KeySet.of([k for k, flag in enumerate(flags) if flag], size)
    assert found.size == max(size, len(flags)) and len(found) == sum(flags)


@settings(max_examples=200, deadline=None)
@given(chosen=st.lists(st.integers(min_value=0, max_value=200_000), max_size=200),
       size=st.integers(min_value=0, max_value=200_010))
def test_a_few_keys_in_a_large_key_space_come_back_ascending(chosen, size):
    """Sparse sets are read from their non-zero bytes only (a diff's changed keys): same keys."""
    found = KeySet.of(np.array(chosen, np.uint32), size).keys()
    assert found.tolist() == sorted(set(chosen)) and found.dtype == np.uint32
