"""A keyed pass keeps its contacts' ids as the batches read them (``PassContacts.id_column``, one
chunk per batch): a diff's few changed ids are taken from the chunks, and the chunks are joined into
one array only when every id is asked for — a keys-only run never joins its ~10M ids."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from audience.evaluation import engine, keyed
from audience.evaluation.placement import Slot
from audience.fields import DEFAULT_CATALOG
from audience.keysets import KeySet
from audience.rules import parse_rule
from hypothesis import given, settings
from hypothesis import strategies as st


def chunked(ids: list[str], cuts: list[int]) -> pa.ChunkedArray:
    bounds = sorted({0, len(ids), *(c % (len(ids) + 1) for c in cuts)})
    return pa.chunked_array([pa.array(ids[a:b], pa.string()) for a, b in zip(bounds, bounds[1:], strict=False)]
                            or [pa.array([], pa.string())], pa.string())


@settings(max_examples=200, deadline=None)
@given(count=st.integers(0, 40), cuts=st.lists(st.integers(0, 40), max_size=6), data=st.data(),
       shuffled=st.booleans())
def test_ids_taken_from_the_chunks_equal_the_joined_columns(count, cuts, data, shuffled):
    ids = [f"c{n:03d}" for n in range(count)]
    keys = np.arange(count, dtype=np.uint32) * 3
    if shuffled:
        np.random.default_rng(count).shuffle(keys)
    flat = keyed.PassContacts(pa.array(ids, pa.string()), keys.copy())
    chunks = keyed.PassContacts(chunked(ids, cuts), keys.copy())
    positions = np.array(data.draw(st.lists(st.integers(0, count - 1), max_size=15)) if count else [], np.int64)
    assert chunks.take_ids(positions).to_pylist() == [ids[p] for p in positions]
    asked = data.draw(st.lists(st.sampled_from(ids), max_size=6)) if count else []
    assert chunks.keys_of([*asked, "nobody"]) == flat.keys_of([*asked, "nobody"])
    wanted = keys[positions] if count else np.zeros(0, np.uint32)
    assert chunks.ids_of(wanted).to_pylist() == flat.ids_of(wanted).to_pylist()
    previous = sorted(data.draw(st.lists(st.sampled_from(ids), unique=True)) if count else [])
    current = data.draw(st.lists(st.sampled_from(ids), unique=True)) if count else []
    key_of = dict(zip(ids, keys.tolist(), strict=True))
    size = 3 * count + 1
    for contacts in (flat, chunks):
        members = keyed.KeyedMembers(KeySet.of([key_of[i] for i in current], size), contacts)
        added, removed = keyed.diff(pa.array(previous, pa.string()),
                                    pa.array([key_of[i] for i in previous], pa.uint32()), members)
        assert added.to_pylist() == sorted(set(current) - set(previous))
        assert removed.to_pylist() == sorted(set(previous) - set(current))
    assert chunks.ids.to_pylist() == ids


def test_a_keyed_pass_joins_its_ids_only_when_every_id_is_asked_for():
    count = 1_000
    table = pa.table({"contact_id": pa.array([f"c{n:05d}" for n in range(count)], pa.string()),
                      "score": pa.array(np.arange(count) % 100, pa.float64()),
                      "contact_key": pa.array(np.arange(count, dtype=np.uint32))})
    plan = engine.Plan(as_of=datetime(2025, 6, 1, tzinfo=UTC), catalog=DEFAULT_CATALOG,
                       rules={"high": parse_rule({"field": "score", "op": "gte", "value": 90}, DEFAULT_CATALOG)},
                       slots=[Slot("high")], columns=["score"])
    members = keyed.evaluate(plan, table.to_batches(max_chunksize=100), threads=2)["high"]
    contacts = members.contacts
    assert isinstance(contacts.id_column, pa.ChunkedArray) and contacts.id_column.num_chunks == 10
    previous = [f"c{n:05d}" for n in range(85, 95)]
    added, removed = keyed.diff(pa.array(previous, pa.string()), pa.array(range(85, 95), pa.uint32()), members)
    assert added.to_pylist() == [f"c{n:05d}" for n in range(95, count) if n % 100 >= 90]
    assert removed.to_pylist() == [f"c{n:05d}" for n in range(85, 90)]
    assert isinstance(contacts.id_column, pa.ChunkedArray)  # a diff's few ids: taken from the chunks
    assert members.ids.to_pylist() == [f"c{n:05d}" for n in range(count) if n % 100 >= 90]
    assert isinstance(contacts.id_column, pa.Array)  # every member's id: the chunks joined, once
