"""A batch's list column is matched against the run's wanted items once for every list leaf on it
(`vectorised._ListItems`), and the answers stay exactly the per-record evaluator's."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from agreement import AS_OF, CATALOG, contacts_batch
from audience.rules import evaluate_record, parse_rule
from audience.rules.vectorised import compile_segments
from hypothesis import given, settings
from hypothesis import strategies as st

ITEMS = ["vip", "VIP", "Vip", "b2b", "trial", "newsletter", "İnfo", "info", "", "other"]
OPS = ["has_any", "has_all", "has_none"]


def test_a_batchs_list_items_are_hashed_once_for_all_list_leaves_on_the_column(monkeypatch):
    # guard (pure speed): on 2c86c96 each leaf hashed the items again, a has_all once per item (4 here)
    contacts = [
        {"contact_id": f"c{n}", "tags": tags}
        for n, tags in enumerate([["VIP", "newsletter"], ["trial"], [], None, ["b2b", "vip", "vip"]])
    ]
    batch = contacts_batch(contacts)
    items = sum(len(tags or []) for tags in (c["tags"] for c in contacts))
    hashed: list[int] = []
    for name in ("is_in", "index_in"):
        original = getattr(pc, name)

        def counting(values, *args, _original=original, **kwargs):
            if len(values) == items:
                hashed.append(len(values))
            return _original(values, *args, **kwargs)

        monkeypatch.setattr(pc, name, counting)
    rules = {
        "any": {"field": "tags", "op": "has_any", "value": ["vip", "high-intent"]},
        "all": {"field": "tags", "op": "has_all", "value": ["newsletter", "VIP"]},
        "none": {"field": "tags", "op": "has_none", "value": ["trial", "do-not-call"]},
    }
    evaluator = compile_segments(
        [(sid, parse_rule(r, CATALOG)) for sid, r in rules.items()], as_of=AS_OF, catalog=CATALOG
    )
    masks = evaluator.masks(batch)
    assert {sid: m.to_pylist() for sid, m in masks.items()} == {
        "any": [True, False, False, False, True],
        "all": [True, False, False, False, False],
        "none": [True, False, True, True, True],
    }
    assert len(hashed) == 1


@settings(max_examples=150, deadline=None)
@given(
    lists=st.lists(
        st.one_of(st.none(), st.lists(st.one_of(st.none(), st.sampled_from(ITEMS)), max_size=5)),
        min_size=1,
        max_size=14,
    ),
    leaves=st.lists(
        st.tuples(st.sampled_from(OPS), st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3)),
        min_size=1,
        max_size=5,
    ),
    cut=st.integers(0, 14),
)
def test_list_leaves_answered_from_the_items_numbers_agree_with_the_per_record_evaluator(lists, leaves, cut):
    contacts = [{"contact_id": f"c{n}", "tags": tags} for n, tags in enumerate(lists)]
    rules = [
        (f"s{n}", parse_rule({"field": "tags", "op": op, "value": value}, CATALOG))
        for n, (op, value) in enumerate(leaves)
    ]
    evaluator = compile_segments(rules, as_of=AS_OF, catalog=CATALOG)
    whole = contacts_batch(contacts)
    cut = min(cut, len(contacts))
    # a batch sliced from a larger one keeps all its parent's items (offsets not starting at 0)
    for part, chosen in ((whole, contacts), (whole.slice(cut), contacts[cut:]), (whole.slice(0, cut), contacts[:cut])):
        masks = evaluator.masks(part)
        for sid, rule in rules:
            expected = [evaluate_record(rule, c, as_of=AS_OF, catalog=CATALOG) for c in chosen]
            assert masks[sid].to_pylist() == expected, (sid, rule)
            assert masks[sid].null_count == 0


def test_a_null_list_owning_items_is_empty_for_list_leaves_answered_from_numbers():
    tags = pa.ListArray.from_arrays(
        pa.array([0, 2, 3, 3], pa.int32()), pa.array(["vip", "b2b", "VIP"]), mask=pa.array([True, False, False])
    )
    base = contacts_batch([{"contact_id": f"c{i}"} for i in range(3)])
    batch = base.set_column(base.schema.get_field_index("tags"), "tags", tags)
    rules = {
        "any": {"field": "tags", "op": "has_any", "value": ["vip"]},
        "all": {"field": "tags", "op": "has_all", "value": ["vip", "b2b"]},
        "none": {"field": "tags", "op": "has_none", "value": ["b2b"]},
    }
    evaluator = compile_segments(
        [(sid, parse_rule(r, CATALOG)) for sid, r in rules.items()], as_of=AS_OF, catalog=CATALOG
    )
    masks = evaluator.masks(batch)
    assert {sid: m.to_pylist() for sid, m in masks.items()} == {
        "any": [False, True, False],
        "all": [False, False, False],
        "none": [True, True, True],
    }
