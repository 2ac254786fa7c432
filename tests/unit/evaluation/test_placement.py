"""Placement (SPEC §1): categories, priorities, suppression; the single-contact and the vectorised
forms give the same answers on the same cases."""

from __future__ import annotations

import pyarrow as pa
from audience.evaluation.placement import Slot, place_contact, place_masks, placement_order
from hypothesis import given, settings
from hypothesis import strategies as st

HIGH = Slot("high", category="tier", priority=1, created_at="2024-02-01")
LOW = Slot("low", category="tier", priority=5, created_at="2024-01-01")
OLDER_SAME_PRIORITY = Slot("older", category="tier", priority=5, created_at="2023-12-01")
FREE = Slot("free")
OPT_OUT = Slot("optout", category="tier", priority=9, created_at="2024-01-01", ignore_suppression=True)
ALL = [LOW, FREE, HIGH, OLDER_SAME_PRIORITY, OPT_OUT]


def vectorised(matches: set[str], static: set[str], suppressed: bool, segments=ALL) -> set[str]:
    masks = {s.id: pa.array([s.id in matches]) for s in segments}
    taken = {c: pa.array([True]) for c in static}
    result = place_masks(masks, taken, segments, pa.array([suppressed]))
    return {sid for sid, mask in result.items() if mask[0].as_py()}


def both(matches: set[str], static: set[str] = frozenset(), suppressed: bool = False) -> set[str]:
    single = place_contact(matches, static, ALL, suppressed)
    assert vectorised(matches, set(static), suppressed) == single
    return single


def test_priority_then_oldest_orders_the_segments_of_a_category():
    assert [s.id for s in placement_order(ALL)] == ["free", "high", "older", "low", "optout"]


def test_contact_joins_only_the_highest_priority_matching_segment_of_a_category():
    assert both({"high", "low", "optout"}) == {"high"}
    assert both({"low", "older"}) == {"older"}
    assert both({"low"}) == {"low"}


def test_segments_without_category_are_independent():
    assert both({"free", "high"}) == {"free", "high"}


def test_static_placement_in_the_category_comes_first():
    assert both({"high", "free"}, static={"tier"}) == {"free"}
    assert both({"high"}, static={"other"}) == {"high"}


def test_suppressed_contact_joins_only_segments_that_opt_out():
    assert both({"high", "free", "optout"}, suppressed=True) == {"optout"}
    assert both({"high", "free"}, suppressed=True) == set()


def test_no_match_no_membership():
    assert both(set()) == set()


def test_vectorised_form_decides_each_row_independently():
    masks = {"high": pa.array([True, True, False]), "low": pa.array([True, False, True])}
    result = place_masks(masks, {"tier": pa.array([False, False, True])}, [HIGH, LOW], pa.array([False, True, False]))
    assert result["high"].to_pylist() == [True, False, False]
    assert result["low"].to_pylist() == [False, False, False]


segment_ids = ["a", "b", "c", "d", "e"]
slots = st.builds(
    lambda sid, cat, prio, day, opt: Slot(sid, category=cat, priority=prio, created_at=f"2024-01-0{day}",
                                          ignore_suppression=opt),
    st.just("x"), st.sampled_from([None, "c1", "c2"]), st.integers(0, 3), st.integers(1, 3), st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    segments=st.lists(slots, min_size=1, max_size=5).map(
        lambda found: [Slot(segment_ids[i], s.category, s.priority, s.created_at, s.ignore_suppression)
                       for i, s in enumerate(found)]),
    matches=st.sets(st.sampled_from(segment_ids)),
    static=st.sets(st.sampled_from(["c1", "c2"])),
    suppressed=st.booleans(),
)
def test_single_contact_and_vectorised_forms_agree(segments, matches, static, suppressed):
    single = place_contact(matches, static, segments, suppressed)
    assert vectorised(matches, static, suppressed, segments) == single
    categories = [s.category for s in segments if s.id in single and s.category]
    assert len(categories) == len(set(categories))  # at most one segment per category
    assert not {s.category for s in segments if s.id in single} & static
