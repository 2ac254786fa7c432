"""A category's static members placed by contact key (``run.static_keys`` then ``engine.placed_batches``
on batches read with keys) take exactly the contacts placement by id takes, batches without keys still
being placed by id; a keyed batch's static placement hashes no contact id; static ids read in id order
(one static segment's members) are placed without sorting them again."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from audience.evaluation import engine, run, snapshots
from audience.evaluation.placement import Slot
from audience.fields import DEFAULT_CATALOG
from audience.keysets import KeySet
from audience.rules import parse_rule
from hypothesis import given, settings
from hypothesis import strategies as st

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)
RULES = {"high": {"field": "score", "op": "gte", "value": 50}, "low": {"field": "score", "op": "lt", "value": 60},
         "any": {"field": "score", "op": "is_not_empty"}, "none": {"field": "score", "op": "is_empty"}}
SUPPRESSED = {"field": "score", "op": "eq", "value": 13}


def manifest(next_key: int) -> snapshots.Manifest:
    return snapshots.Manifest(snapshot_id="s1", tenant_id="t1", created_at="", watermark=None, fields={},
                              key_space="s1", next_key=next_key)


@contextmanager
def snapshot_of(batches: list[pa.RecordBatch]):
    """``snapshots.iter_batches`` reading these batches (``contact_id`` and ``contact_key`` only)."""
    def iter_batches(*args, columns=None, keys=False, **kwargs):
        assert columns == ["contact_id"] and keys
        yield from (b.select(["contact_id", snapshots.KEY]) for b in batches)

    with mock.patch.object(snapshots, "iter_batches", iter_batches):
        yield


def table(scores: list[int | None], keys: np.ndarray) -> pa.Table:
    return pa.table({"contact_id": pa.array([f"c{n:04d}" for n in range(len(scores))], pa.string()),
                     "score": pa.array(scores, pa.float64()),
                     snapshots.KEY: pa.array(keys, pa.uint32())})


def placements(plan: engine.Plan, batches: list[pa.RecordBatch], threads: int) -> list[dict[str, list[bool]]]:
    return [{sid: mask.to_pylist() for sid, mask in placed.items()}
            for _, placed in engine.placed_batches(plan, batches, threads=threads)]


@settings(max_examples=60, deadline=None)
@given(scores=st.lists(st.one_of(st.none(), st.integers(0, 100)), max_size=50),
       slots=st.lists(st.tuples(st.sampled_from(list(RULES)), st.sampled_from(["a", "b", None]), st.integers(0, 3),
                                st.booleans()), min_size=1, max_size=4, unique_by=lambda s: s[0]),
       static=st.dictionaries(st.sampled_from(["a", "b", "c"]),
                              st.lists(st.one_of(st.integers(0, 60).map(lambda n: f"c{n:04d}"),
                                                 st.sampled_from(["gone", "x1", "c9999"])), max_size=20)),
       seed=st.integers(0, 2**16), gaps=st.integers(0, 4), batch=st.integers(1, 20), threads=st.sampled_from([1, 2]),
       keyless=st.sets(st.integers(0, 10)))
def test_placement_by_static_keys_takes_what_placement_by_static_ids_takes(scores, slots, static, seed, gaps, batch,
                                                                            threads, keyless):
    keys = np.arange(len(scores), dtype=np.uint32) * (gaps + 1)  # holes of erased contacts
    np.random.default_rng(seed).shuffle(keys)
    batches = table(scores, keys).to_batches(max_chunksize=batch)
    static_ids = {category: pa.array(ids, pa.string()) for category, ids in static.items()}
    plan = engine.Plan(as_of=AS_OF, catalog=DEFAULT_CATALOG,
                       rules={sid: parse_rule(RULES[sid], DEFAULT_CATALOG) for sid, *_ in slots},
                       slots=[Slot(sid, category, priority, ignore_suppression=ignore)
                              for sid, category, priority, ignore in slots],
                       suppression=parse_rule(SUPPRESSED, DEFAULT_CATALOG), static_by_category=static_ids)
    by_ids = placements(plan, [b.drop_columns([snapshots.KEY]) for b in batches], threads)

    with snapshot_of(batches):
        plan.static_keys = run.static_keys(static_ids, manifest(len(scores) * (gaps + 1)), None, "bucket")
    assert set(plan.static_keys) == {c for c, ids in static.items() if ids}
    # some batches read without keys (files written before them): placed by id in the same pass
    mixed = [b.drop_columns([snapshots.KEY]) if n in keyless else b for n, b in enumerate(batches)]
    assert placements(plan, mixed, threads) == by_ids


def test_a_keyed_batchs_static_placement_looks_up_no_contact_id(monkeypatch):
    batches = table([70, 70, 10, None, 70], np.array([4, 0, 9, 2, 7], np.uint32)).to_batches(max_chunksize=2)
    static_ids = {"a": pa.array(["c0000", "c0003", "gone"], pa.string())}
    plan = engine.Plan(as_of=AS_OF, catalog=DEFAULT_CATALOG,
                       rules={"high": parse_rule(RULES["high"], DEFAULT_CATALOG)}, slots=[Slot("high", "a")],
                       static_by_category=static_ids)
    with snapshot_of(batches):
        plan.static_keys = run.static_keys(static_ids, manifest(10), None, "bucket")
    assert plan.static_keys["a"] == KeySet.of([4, 2])  # "gone" is not in the snapshot: no key

    def no_id_lookup(*args, **kwargs):
        raise AssertionError("a keyed batch's static members were looked up by id")

    monkeypatch.setattr(engine, "contains", no_id_lookup)
    monkeypatch.setattr(engine, "sorted_ids", no_id_lookup)
    found = engine.evaluate(plan, batches, threads=1)
    assert found["high"].to_pylist() == ["c0001", "c0004"]  # c0000 matches but is placed statically


def test_static_keys_are_left_to_ids_without_a_key_space_or_with_a_file_without_keys():
    batches = table([1, 2], np.array([0, 1], np.uint32)).to_batches()
    static_ids = {"a": pa.array(["c0000"], pa.string()), "b": pa.array([], pa.string())}
    unkeyed = manifest(2)
    unkeyed.key_space = None
    assert run.static_keys(static_ids, unkeyed, None, "bucket") == {}
    nulls = [batches[0].set_column(2, snapshots.KEY, pa.nulls(2, pa.uint32()))]
    with snapshot_of(nulls):
        assert run.static_keys(static_ids, manifest(2), None, "bucket") == {}
    with snapshot_of(batches):
        assert set(run.static_keys(static_ids, manifest(2), None, "bucket")) == {"a"}


@pytest.mark.parametrize("threads", [1, 2])
def test_a_batch_without_keys_still_places_static_members_by_id(threads):
    batches = table([70, 70, 70], np.array([0, 1, 2], np.uint32)).to_batches()
    plan = engine.Plan(as_of=AS_OF, catalog=DEFAULT_CATALOG,
                       rules={"high": parse_rule(RULES["high"], DEFAULT_CATALOG)}, slots=[Slot("high", "a")],
                       static_by_category={"a": pa.array(["c0001"], pa.string())},
                       static_keys={"a": KeySet.of([1])})
    found = engine.evaluate(plan, [b.drop_columns([snapshots.KEY]) for b in batches], threads=threads)
    assert found["high"].to_pylist() == ["c0000", "c0002"]


@settings(max_examples=40, deadline=None)
@given(scores=st.lists(st.one_of(st.none(), st.integers(0, 100)), max_size=40),
       members=st.lists(st.one_of(st.integers(0, 50).map(lambda n: f"c{n:04d}"), st.sampled_from(["b", "zz"])),
                        max_size=30),
       seed=st.integers(0, 2**16), batch=st.integers(1, 15))
def test_static_ids_read_in_order_place_as_the_same_ids_in_any_order(scores, members, seed, batch):
    batches = [b.drop_columns([snapshots.KEY])
               for b in table(scores, np.arange(len(scores), dtype=np.uint32)).to_batches(max_chunksize=batch)]
    shuffled = list(members)
    np.random.default_rng(seed).shuffle(shuffled)

    def placed(static: list[str]) -> list[dict[str, list[bool]]]:
        plan = engine.Plan(as_of=AS_OF, catalog=DEFAULT_CATALOG,
                           rules={sid: parse_rule(RULES[sid], DEFAULT_CATALOG) for sid in ("high", "any")},
                           slots=[Slot("high", "a"), Slot("any", "a", priority=1)],
                           static_by_category={"a": pa.array(static, pa.string())})
        return placements(plan, batches, threads=1)

    assert placed(sorted(set(members), key=str.encode)) == placed(shuffled)


def test_a_static_segment_read_in_id_order_is_not_sorted_again(monkeypatch):
    batches = [b.drop_columns([snapshots.KEY]) for b in table([70, 70, 70], np.arange(3, dtype=np.uint32)).to_batches()]
    plan = engine.Plan(as_of=AS_OF, catalog=DEFAULT_CATALOG,
                       rules={"high": parse_rule(RULES["high"], DEFAULT_CATALOG)}, slots=[Slot("high", "a")],
                       static_by_category={"a": pa.array(["c0000", "c0002", "gone"], pa.string())})

    def no_sort(*args, **kwargs):
        raise AssertionError("static members read in id order were sorted again")

    monkeypatch.setattr(engine, "sorted_ids", no_sort)
    assert engine.evaluate(plan, batches, threads=1)["high"].to_pylist() == ["c0001"]
