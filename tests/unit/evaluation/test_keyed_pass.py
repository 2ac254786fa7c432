"""A pass read with contact keys (``keyed.evaluate``) selects exactly the members the id pass
(``engine.evaluate``) selects, whatever order the keys come in, and takes their ids back by key."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from audience.evaluation import engine, keyed
from audience.evaluation.placement import Slot
from audience.fields import DEFAULT_CATALOG
from audience.keysets import KeySet
from audience.rules import parse_rule
from hypothesis import given, settings
from hypothesis import strategies as st

RULES = {
    "high": {"field": "score", "op": "gte", "value": 50},
    "low": {"field": "score", "op": "lt", "value": 20},
    "any": {"any": [{"segment": "high"}, {"field": "country", "op": "eq", "value": "DE"}]},
    "first": {"field": "score", "op": "is_not_empty"},  # a category with "second": placement on masks
    "second": {"field": "score", "op": "gte", "value": 0},
}


def plan() -> engine.Plan:
    slots = [Slot(sid, category="tier" if sid in ("first", "second") else None, priority=n)
             for n, sid in enumerate(RULES)]
    return engine.Plan(as_of=datetime(2025, 6, 1, tzinfo=UTC), catalog=DEFAULT_CATALOG,
                       rules={sid: parse_rule(rule, DEFAULT_CATALOG) for sid, rule in RULES.items()},
                       slots=slots, columns=["country", "score"],
                       suppression=parse_rule({"field": "score", "op": "eq", "value": 13}, DEFAULT_CATALOG))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 100)), st.sampled_from(["DE", "FR", None])),
                     max_size=60),
       rising=st.booleans(), seed=st.integers(0, 2**16), batch=st.integers(1, 25), threads=st.sampled_from([1, 2]),
       gaps=st.integers(0, 5))
def test_a_keyed_pass_selects_what_the_id_pass_selects(rows, rising, seed, batch, threads, gaps):
    ids = [f"c{n:04d}" for n in range(len(rows))]
    keys = np.arange(len(rows), dtype=np.uint32) * (gaps + 1)  # holes of erased contacts
    if not rising:
        np.random.default_rng(seed).shuffle(keys)
    table = pa.table({"contact_id": pa.array(ids, pa.string()),
                      "country": pa.array([r[1] for r in rows], pa.string()),
                      "score": pa.array([r[0] for r in rows], pa.float64()),
                      "contact_key": pa.array(keys, pa.uint32())})
    batches = table.to_batches(max_chunksize=batch)

    by_ids = engine.evaluate(plan(), [b.drop_columns(["contact_key"]) for b in batches], threads=threads)
    by_keys = keyed.evaluate(plan(), batches, threads=threads, key_space_size=len(rows) * (gaps + 1) + 3)

    assert set(by_keys) == set(by_ids)
    key_of = dict(zip(ids, keys.tolist(), strict=True))
    for sid, members in by_keys.items():
        ordered = members.in_order()
        assert ordered.ids.to_pylist() == sorted(by_ids[sid].to_pylist())
        assert ordered.keys.to_pylist() == [key_of[i] for i in ordered.ids.to_pylist()]
        assert len(members) == len(by_ids[sid])
        assert members.contacts.ids_of(members.keys.keys()).to_pylist() == \
            sorted(by_ids[sid].to_pylist(), key=key_of.get)


def test_a_full_builds_state_ids_are_taken_by_the_members_keys_with_one_filter(monkeypatch):
    # guard (pure speed): before, each segment's state ids filtered every contact's id and then every key
    ids = pa.array([f"c{n:04d}" for n in range(300)], pa.string())
    contacts = keyed.PassContacts(ids, np.arange(300, dtype=np.uint32))
    chosen = np.zeros(300, np.bool_)
    chosen[[0, 7, 8, 64, 299]] = True
    members = keyed.KeyedMembers(KeySet.from_flags(chosen), contacts)
    filtered: list[int] = []
    original = pc.filter

    def counting(values, *args, **kwargs):
        filtered.append(len(values))
        return original(values, *args, **kwargs)

    monkeypatch.setattr(pc, "filter", counting)
    ordered = members.in_order()
    assert ordered.ids.to_pylist() == ["c0000", "c0007", "c0008", "c0064", "c0299"]
    assert ordered.keys.to_pylist() == [0, 7, 8, 64, 299]
    assert ordered.keys.type == pa.uint32()
    assert filtered == [300]
