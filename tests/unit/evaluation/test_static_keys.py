"""A category's static ids read in id order (one static segment's members, as DynamoDB returns them)
are placed as the same ids in any order are, without sorting them again."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from unittest import mock

import numpy as np
import pyarrow as pa
from audience.evaluation import engine, snapshots
from audience.evaluation.placement import Slot
from audience.fields import DEFAULT_CATALOG
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
