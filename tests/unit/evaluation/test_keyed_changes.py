"""The keyed diff (contact keys, ``evaluation.keyed``) writes exactly what the string diff
(``evaluation.changes``) writes, touched contacts included."""

from __future__ import annotations

import pyarrow as pa
from audience.evaluation import changes, keyed
from hypothesis import given, settings
from hypothesis import strategies as st

UNIVERSE = [f"c{n:03d}" for n in range(40)]
KEYS = {contact_id: (n * 7) % 53 for n, contact_id in enumerate(UNIVERSE)}  # distinct, not in id order

members = st.lists(st.sampled_from(UNIVERSE), unique=True, max_size=30)


def as_keyed(ids: list[str]) -> keyed.KeyedMembers:
    return keyed.KeyedMembers(pa.array(ids, pa.string()), pa.array([KEYS[i] for i in ids], pa.uint32()))


@settings(max_examples=200, deadline=None)
@given(previous=members, current=members, recent=members, newer=members, held=members)
def test_keyed_diff_writes_what_the_string_diff_writes(previous, current, recent, newer, held):
    newer = [c for c in newer if c not in recent]
    stored = lambda ids: {c for c in ids if c in held}  # noqa: E731

    by_ids = changes.segment_change(pa.array(previous, pa.string()), pa.array(current, pa.string()),
                                    recent=recent, newer=newer, stored=stored)
    by_keys = keyed.segment_change(as_keyed(previous), as_keyed(current), recent=recent, newer=newer, stored=stored)

    assert sorted(by_keys.added.to_pylist()) == sorted(by_ids.added.to_pylist())
    assert sorted(by_keys.removed.to_pylist()) == sorted(by_ids.removed.to_pylist())
    assert by_keys.member_count == by_ids.member_count


def test_only_changed_members_ids_are_taken_from_the_keys():
    previous = as_keyed(["c001", "c002", "c003"])
    current = as_keyed(["c003", "c002", "c004"])
    added, removed = keyed.diff(previous, current)
    assert added.to_pylist() == ["c004"] and removed.to_pylist() == ["c001"]
    assert keyed.present(pa.array([5, 9], pa.uint32()), pa.array([], pa.uint32())).to_pylist() == [False, False]


def test_keyed_members_sort_by_id_with_their_keys():
    ordered = as_keyed(["c009", "c001", "c005"]).in_order()
    assert ordered.ids.to_pylist() == ["c001", "c005", "c009"]
    assert ordered.keys.to_pylist() == [KEYS["c001"], KEYS["c005"], KEYS["c009"]]
