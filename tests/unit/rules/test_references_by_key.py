"""A segment referenced from outside the run is looked up by contact key in batches read with keys
(``member_keys``), by id otherwise: both give exactly the same masks."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from audience.fields import DEFAULT_CATALOG
from audience.keysets import KeySet
from audience.rules import parse_rule
from audience.rules.vectorised import SegmentEvaluator
from hypothesis import given, settings
from hypothesis import strategies as st

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)
UNIVERSE = [f"c{n:03d}" for n in range(30)]
RULES = {
    "plain": {"segment": "outside"},
    "negated": {"not": {"segment": "outside"}},
    "mixed": {"any": [{"segment": "outside"}, {"field": "score", "op": "gte", "value": 50}]},
    "nested": {"all": [{"segment": "plain"}, {"not": {"segment": "empty"}}]},
}


def evaluator(memberships, member_keys=None) -> SegmentEvaluator:
    rules = [(sid, parse_rule(rule, DEFAULT_CATALOG)) for sid, rule in RULES.items()]
    return SegmentEvaluator(rules, as_of=AS_OF, catalog=DEFAULT_CATALOG, memberships=memberships,
                            member_keys=member_keys)


def batch(contacts: list[str], keys: dict[str, int], scores: list[int | None], *, with_keys: bool) -> pa.RecordBatch:
    columns = {"contact_id": pa.array(contacts, pa.string()), "score": pa.array(scores, pa.float64())}
    if with_keys:
        columns["contact_key"] = pa.array([keys[c] for c in contacts], pa.uint32())
    return pa.RecordBatch.from_pydict(columns)


@settings(max_examples=150, deadline=None)
@given(order=st.permutations(UNIVERSE), members=st.lists(st.sampled_from(UNIVERSE), unique=True, max_size=30),
       strangers=st.lists(st.integers(min_value=30, max_value=90), max_size=5), take=st.integers(0, 30),
       scores=st.lists(st.one_of(st.none(), st.integers(0, 100)), min_size=30, max_size=30))
def test_references_by_key_give_the_masks_references_by_id_give(order, members, strangers, take, scores):
    keys = {contact_id: n for n, contact_id in enumerate(order)}  # keys not in id order
    contacts = sorted(UNIVERSE)[:take] if take else list(UNIVERSE)
    by_id = evaluator({"outside": pa.array(members, pa.string())})
    # ids withheld from the keyed evaluator: every answer must come from the keys
    by_key = evaluator({}, {"outside": KeySet.of([keys[m] for m in members] + strangers, 40),
                            "empty": KeySet.empty(40)})

    expected = by_id.masks(batch(contacts, keys, scores[:len(contacts)], with_keys=False))
    found = by_key.masks(batch(contacts, keys, scores[:len(contacts)], with_keys=True))

    assert {sid: mask.to_pylist() for sid, mask in found.items()} == \
        {sid: mask.to_pylist() for sid, mask in expected.items()}


def test_a_batch_without_keys_falls_back_to_the_ids():
    keys = {c: n for n, c in enumerate(UNIVERSE)}
    both = evaluator({"outside": pa.array(["c001", "c004"], pa.string())},
                     {"outside": KeySet.of(np.array([keys["c001"], keys["c004"]], np.uint32))})
    masks = both.masks(batch(UNIVERSE[:6], keys, [None] * 6, with_keys=False))
    assert masks["plain"].to_pylist() == [False, True, False, False, True, False]
