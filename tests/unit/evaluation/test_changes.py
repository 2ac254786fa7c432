"""What a run writes for a segment: plain diff, and the corrections for contacts the stream touched."""

from __future__ import annotations

import random
from unittest import mock

import pyarrow as pa
from audience.evaluation import changes
from audience.evaluation.changes import diff, segment_change, touched_groups
from audience.rules.vectorised import is_strictly_sorted, sorted_positions
from hypothesis import given, settings
from hypothesis import strategies as st


def ids(*values: str) -> pa.Array:
    return pa.array(list(values), pa.string())


def as_sets(change):
    return set(change.added.to_pylist()), set(change.removed.to_pylist()), change.member_count


def test_plain_diff_is_adds_and_removes_only():
    added, removed = diff(ids("a", "b", "c"), ids("b", "c", "d"))
    assert (added.to_pylist(), removed.to_pylist()) == (["d"], ["a"])
    assert [x.to_pylist() for x in diff(ids(), ids("a"))] == [["a"], []]
    assert [x.to_pylist() for x in diff(ids("a"), ids())] == [[], ["a"]]


def test_without_stream_touches_the_change_is_the_diff():
    assert as_sets(segment_change(ids("a", "b"), ids("b", "c"))) == ({"c"}, {"a"}, 2)


def test_recent_contacts_are_compared_with_the_table_not_the_state():
    # state: a, b. The stream since added x (table holds it) and removed b (table lacks it).
    # the run computes: a, x (agrees with the stream on both) and y (stream added y, run disagrees? no: y in run)
    stored = {"x"}
    change = segment_change(ids("a", "b"), ids("a", "x"), recent=["x", "b"], stored=lambda asked: stored & set(asked))
    assert as_sets(change) == (set(), set(), 2)  # nothing to write, nothing counted twice


def test_recent_contact_the_run_disagrees_with_is_undone():
    # the stream put z in; the contact changed again but that record was lost: the run says z is out
    change = segment_change(ids("a"), ids("a", "w"), recent=["z", "w"], stored=lambda asked: {"z"} & set(asked))
    assert as_sets(change) == ({"w"}, {"z"}, 2)


def test_newer_contacts_are_left_as_the_table_has_them_and_counted_so():
    # the snapshot predates the stream's change of n1 (now in) and n2 (now out)
    change = segment_change(ids("a", "n2"), ids("a", "n2"), newer=["n1", "n2"],
                            stored=lambda asked: {"n1"} & set(asked))
    assert as_sets(change) == (set(), set(), 2)  # a + n1 as the table has them


def test_touches_split_by_the_two_cuts():
    touched = {"old": "2024-01-01T00:00:00.000Z", "recent": "2024-01-02T00:00:00.000Z",
               "newer": "2024-01-04T00:00:00.000Z"}
    assert touched_groups(touched, "2024-01-01T12:00:00.000Z", "2024-01-03T00:00:00.000Z", False) == (
        ["recent"], ["newer"])
    assert touched_groups(touched, None, "2024-01-03T00:00:00.000Z", False) == (["old", "recent"], ["newer"])
    assert touched_groups(touched, None, "2024-01-03T00:00:00.000Z", True) == ([], ["newer"])
    assert touched_groups(touched, None, None, False) == ([], ["old", "recent", "newer"])


# -- the fast diff: both sides sorted, one looked up in the other slice by slice ----------------------

id_sets = st.sets(st.text(alphabet="abcé0z", min_size=0, max_size=4), max_size=60)


@settings(max_examples=300, deadline=None)
@given(previous=id_sets, current=id_sets, order=st.sampled_from(["both", "previous", "current", "neither"]),
       chunk=st.sampled_from([1, 3, 65_536]), seed=st.integers(0, 2**16))
def test_diff_is_exact_set_arithmetic_in_input_order_sorted_or_not(previous, current, order, chunk, seed):
    rng = random.Random(seed)

    def arranged(values: set[str], keep_sorted: bool) -> list[str]:
        items = sorted(values, key=str.encode)
        if not keep_sorted:
            rng.shuffle(items)
        return items

    before = arranged(previous, order in ("both", "previous"))
    after = arranged(current, order in ("both", "current"))
    with mock.patch.object(changes, "sorted_positions",
                           lambda ordered, values: sorted_positions(ordered, values, chunk=chunk)):
        added, removed = diff(ids(*before), ids(*after))
    assert added.to_pylist() == [c for c in after if c not in previous]
    assert removed.to_pylist() == [p for p in before if p not in current]


def test_in_order_sorts_bytewise_only_when_needed():
    ordered = ids("B", "a", "é")
    assert changes.in_order(ordered) is ordered
    assert changes.in_order(ids("é", "a", "B")).to_pylist() == ["B", "a", "é"]


def test_sorted_positions_finds_each_id_or_none():
    ordered = ids("a", "b", "d", "é")
    assert sorted_positions(ordered, ids("d", "c", "é", "a"), chunk=2).to_pylist() == [2, None, 3, 0]
    assert sorted_positions(ids(), ids("a")).to_pylist() == [None]
    assert is_strictly_sorted(ordered)
    assert not is_strictly_sorted(ids("a", "a")) and not is_strictly_sorted(ids("b", "a"))
