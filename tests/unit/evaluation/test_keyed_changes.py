"""The keyed diff (contact keys, ``evaluation.keyed``) writes exactly what the string diff
(``evaluation.changes``) writes, touched contacts included, taking ids only from the pass's contacts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from audience.evaluation import changes, keyed
from audience.keysets import KeySet
from hypothesis import given, settings
from hypothesis import strategies as st

UNIVERSE = [f"c{n:03d}" for n in range(40)]
KEYS = {contact_id: (n * 7) % 53 for n, contact_id in enumerate(UNIVERSE)}  # distinct, not in id order

members = st.lists(st.sampled_from(UNIVERSE), unique=True, max_size=30)


def pass_contacts(order: list[str] | None = None) -> keyed.PassContacts:
    order = order or UNIVERSE
    return keyed.PassContacts(pa.array(order, pa.string()), np.array([KEYS[i] for i in order], np.uint32))


def as_keyed(ids: list[str], contacts: keyed.PassContacts | None = None) -> keyed.KeyedMembers:
    return keyed.KeyedMembers(KeySet.of([KEYS[i] for i in ids], 53), contacts or pass_contacts())


def state_of(ids: list[str]) -> tuple[pa.Array, pa.Array]:
    return pa.array(ids, pa.string()), pa.array([KEYS[i] for i in ids], pa.uint32())


@settings(max_examples=200, deadline=None)
@given(previous=members, current=members, recent=members, newer=members, held=members,
       order=st.permutations(UNIVERSE))
def test_keyed_diff_writes_what_the_string_diff_writes(previous, current, recent, newer, held, order):
    newer = [c for c in newer if c not in recent]
    stored = lambda ids: {c for c in ids if c in held}  # noqa: E731

    by_ids = changes.segment_change(pa.array(previous, pa.string()), pa.array(current, pa.string()),
                                    recent=recent, newer=newer, stored=stored)
    by_keys = keyed.segment_change(*state_of(previous), as_keyed(current, pass_contacts(order)),
                                   recent=recent, newer=newer, stored=stored)

    assert sorted(by_keys.added.to_pylist()) == sorted(by_ids.added.to_pylist())
    assert sorted(by_keys.removed.to_pylist()) == sorted(by_ids.removed.to_pylist())
    assert by_keys.member_count == by_ids.member_count


def test_only_changed_members_ids_are_taken_from_the_keys(monkeypatch):
    contacts = pass_contacts()
    taken = []
    original = contacts.ids_of
    monkeypatch.setattr(contacts, "ids_of", lambda keys: taken.extend(keys.tolist()) or original(keys))
    added, removed = keyed.diff(*state_of(["c001", "c002", "c003"]), as_keyed(["c003", "c002", "c004"], contacts))
    assert added.to_pylist() == ["c004"] and removed.to_pylist() == ["c001"]
    assert taken == [KEYS["c004"]]  # one id looked up: the member that joined


def test_keyed_members_sort_by_id_with_their_keys():
    ordered = as_keyed(["c009", "c001", "c005"], pass_contacts(list(reversed(UNIVERSE)))).in_order()
    assert ordered.ids.to_pylist() == ["c001", "c005", "c009"]
    assert ordered.keys.to_pylist() == [KEYS["c001"], KEYS["c005"], KEYS["c009"]]


@settings(max_examples=100, deadline=None)
@given(parts=st.lists(st.tuples(st.lists(st.sampled_from(UNIVERSE), unique=True, max_size=15), members),
                      min_size=1, max_size=4))
def test_shards_keyed_members_concatenate_to_the_union(parts):
    """Shards hold disjoint contacts: the merged pass has every shard's contacts and each segment the
    union of the shards' members (ids still looked up by key)."""
    seen: set[str] = set()
    results = []
    for contacts, chosen in parts:
        contacts = [c for c in contacts if c not in seen]
        seen |= set(contacts)
        chosen = [c for c in chosen if c in contacts]
        results.append({"s": as_keyed(chosen, pass_contacts(contacts) if contacts else keyed.PassContacts(
            pa.array([], pa.string()), np.zeros(0, np.uint32)))})
    merged = keyed.concat(results)["s"]
    expected = sorted({c for result in results for c in result["s"].ids.to_pylist()})
    assert merged.in_order().ids.to_pylist() == expected
    assert len(merged) == len(expected)
