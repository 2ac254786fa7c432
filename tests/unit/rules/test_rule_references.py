"""Segment references: which segments a rule uses, cycle detection on save, evaluation order."""

from __future__ import annotations

import pytest
from audience.fields import DEFAULT_CATALOG
from audience.rules import dependency_order, find_cycle, parse_rule, referenced_segments


def rule(data):
    return parse_rule(data, DEFAULT_CATALOG)


def ref(*ids: str):
    return rule({"any": [{"segment": s} for s in ids]}) if len(ids) > 1 else rule({"segment": ids[0]})


LEAF = {"field": "email", "op": "is_not_empty"}


def test_referenced_segments_finds_references_at_any_depth():
    r = rule({"all": [{"segment": "a"}, {"not": {"any": [{"segment": "b"}, LEAF, {"all": [{"segment": "a"}]}]}}]})
    assert referenced_segments(r) == {"a", "b"}
    assert referenced_segments(rule(LEAF)) == set()


def test_a_segment_referencing_itself_is_a_cycle():
    assert find_cycle("s", ref("s"), lambda _: None) == ["s", "s"]


def test_an_indirect_cycle_is_reported_as_its_path():
    stored = {"b": ref("c"), "c": rule({"all": [LEAF, {"not": {"segment": "a"}}]})}
    assert find_cycle("a", ref("b"), stored.get) == ["a", "b", "c", "a"]


def test_the_stored_rule_of_the_segment_being_saved_is_ignored():
    # Saving `a` replaces its rule: the old one (referencing b) must not count.
    stored = {"a": ref("b"), "b": ref("c"), "c": rule(LEAF)}
    assert find_cycle("a", ref("c"), stored.get) is None
    assert find_cycle("c", ref("a"), stored.get) == ["c", "a", "b", "c"]


def test_diamonds_and_unknown_segments_are_not_cycles():
    stored = {"b": ref("d"), "c": ref("d"), "d": rule(LEAF)}
    assert find_cycle("a", ref("b", "c", "gone"), stored.get) is None


def test_dependency_order_puts_references_first():
    rules = {"top": ref("mid", "base"), "mid": ref("base", "elsewhere"), "base": rule(LEAF), "alone": rule(LEAF)}
    order = dependency_order(rules)
    assert sorted(order) == sorted(rules)
    assert order.index("base") < order.index("mid") < order.index("top")


def test_dependency_order_refuses_a_cycle():
    with pytest.raises(ValueError, match="cycle"):
        dependency_order({"a": ref("b"), "b": ref("a")})


def test_segments_in_one_call_reuse_each_others_masks_and_others_come_from_memberships():
    import pyarrow as pa
    from agreement import AS_OF, CATALOG, contacts_batch
    from audience.rules.vectorised import evaluate_segments

    contacts = [{"contact_id": cid, "country": country} for cid, country in
                [("c1", "US"), ("c2", "FR"), ("c3", "US"), ("c4", None)]]
    segments = [  # deliberately listed before the segments they reference
        ("us_not_vip", rule({"all": [{"segment": "us"}, {"not": {"segment": "vip"}}]})),
        ("us", rule({"field": "country", "op": "eq", "value": "us"})),
        ("not_us_or_ghost", rule({"any": [{"not": {"segment": "us"}}, {"segment": "ghost"}]})),
    ]
    found = evaluate_segments(segments, [contacts_batch(contacts[:2]), contacts_batch(contacts[2:])],
                              as_of=AS_OF, catalog=CATALOG, memberships={"vip": pa.array(["c3", "zz"])})
    assert {sid: ids.to_pylist() for sid, ids in found.items()} == {
        "us": ["c1", "c3"], "us_not_vip": ["c1"], "not_us_or_ghost": ["c2", "c4"]}
