"""`vectorised._positions` (each id's position in a sorted distinct index: the activity index lookup,
references and `contains`) finds ids of one width that differ only in their last 8 bytes by binary
search over integers (`_same_width_positions`) instead of Arrow's hash lookup; the answers must be
exactly the hash lookup's, whatever the ids' order, repeats, widths and prefixes."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from audience.rules import vectorised as v
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _hashed(index: pa.Array, ids: pa.Array) -> list[int | None]:
    """The answer by Arrow's hash lookup over the whole index, the reference."""
    return pc.index_in(ids, value_set=index).to_pylist()


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(v, "_NUMBERED_FROM", 4)  # the shortcut on batches hypothesis can draw


prefixes = st.sampled_from(["", "c", "c0000", "contact-00", "ü", "abcdefghij"])
numbers = st.lists(st.integers(0, 10**6), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=prefixes, width=st.integers(1, 12), indexed=numbers, asked=numbers,
       order=st.sampled_from(["rising", "as drawn", "repeats"]), offset=st.integers(0, 3), odd=st.booleans())
def test_positions_of_same_width_ids_equal_the_hash_lookups(small_batches, prefix, width, indexed, asked, order,
                                                            offset, odd):
    def ident(n: int) -> str:
        return prefix + str(n % 10**width).zfill(width)

    index = pa.array(sorted({ident(n) for n in indexed}), pa.string())
    chosen = [ident(n) for n in asked] + [index[0].as_py()]  # at least one id the index holds
    if order == "rising":
        chosen = sorted(set(chosen))
    elif order == "repeats":
        chosen = sorted(chosen + chosen[:3])
    if odd:  # one id of another width: the shortcut must step aside
        chosen.append(ident(asked[0]) + "x")
    ids = pa.array(["pad"] * offset + chosen, pa.string()).slice(offset)
    assert v._positions(index, ids).to_pylist() == _hashed(index, ids)


def test_rising_sequential_ids_are_found_without_hashing(small_batches, monkeypatch):
    # guard (pure speed): a snapshot's batch of sequential ids is looked up by binary search
    calls: list[int] = []
    original = pc.index_in
    monkeypatch.setattr(pc, "index_in", lambda values, **kw: calls.append(len(values)) or original(values, **kw))
    index = pa.array([f"c{n:09d}" for n in range(0, 50_000, 3)], pa.string())
    ids = pa.array([f"c{n:09d}" for n in range(20_000, 30_000)], pa.string())
    found = v._positions(index, ids)
    assert calls == []
    assert found.to_pylist() == _hashed(index, ids)
    assert found.null_count == len(ids) - len(range(20_001, 30_000, 3))


def test_ids_differing_in_more_than_their_last_8_bytes_are_hashed(small_batches):
    index = pa.array(sorted(f"{n:016x}" for n in (1, 2**40, 2**60, 2**63)), pa.string())
    ids = pa.array(sorted(f"{n:016x}" for n in (1, 5, 2**60, 2**63)), pa.string())
    assert v._same_width_positions(index, ids, 0, ids[0].as_py(), ids[len(ids) - 1].as_py()) is None
    assert v._positions(index, ids).to_pylist() == _hashed(index, ids)


def test_chunked_ids_are_still_looked_up(small_batches):
    index = pa.array([f"c{n:09d}" for n in range(0, 100, 2)], pa.string())
    ids = pa.chunked_array([[f"c{n:09d}" for n in range(10, 20)], [f"c{n:09d}" for n in range(20, 30)]])
    assert v._positions(index, ids).to_pylist() == _hashed(index, ids)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=prefixes, width=st.integers(1, 12), indexed=st.lists(st.integers(0, 10**6), max_size=60),
       asked=numbers, order=st.sampled_from(["rising", "as drawn", "repeats"]), odd=st.booleans(),
       chunked=st.booleans())
def test_positions_with_a_row_for_absent_ids_equal_the_hash_lookup_filled(small_batches, prefix, width, indexed,
                                                                           asked, order, odd, chunked):
    # the activity lookup's form: absent ids get the index's length (its row for contacts without events)
    def ident(n: int) -> str:
        return prefix + str(n % 10**width).zfill(width)

    index = pa.array(sorted({ident(n) for n in indexed}), pa.string())
    chosen = [ident(n) for n in asked]
    if order == "rising":
        chosen = sorted(set(chosen))
    elif order == "repeats":
        chosen = sorted(chosen + chosen[:3])
    if odd:
        chosen.append(ident(asked[0]) + "x")
    ids = pa.chunked_array([chosen[:2], chosen[2:]], pa.string()) if chunked else pa.array(chosen, pa.string())
    found = v._positions(index, ids, missing=len(index))
    assert found.null_count == 0
    assert found.to_pylist() == [len(index) if at is None else at for at in _hashed(index, ids)]


def test_a_batch_without_events_for_some_contacts_gets_their_row_without_filling_nulls(small_batches, monkeypatch):
    # guard (pure speed): the rising integer search writes the absent ids' row in place, no fill_null
    calls: list[int] = []
    original = pc.fill_null
    monkeypatch.setattr(pc, "fill_null",
                        lambda values, *a, **kw: calls.append(len(values)) or original(values, *a, **kw))
    index = pa.array([f"c{n:09d}" for n in range(0, 50_000, 3)], pa.string())
    ids = pa.array([f"c{n:09d}" for n in range(20_000, 30_000)], pa.string())
    found = v._positions(index, ids, missing=len(index))
    assert calls == []
    assert found.null_count == 0
    assert found.to_pylist() == [len(index) if at is None else at for at in _hashed(index, ids)]
