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


@settings(max_examples=200, deadline=None)
@given(previous=members, current=members, recent=members, newer=members, held=members,
       erased=st.sets(st.sampled_from(UNIVERSE)), order=st.permutations(UNIVERSE))
def test_a_keys_only_state_diffs_as_the_string_diff_with_erased_members_named_by_the_directory(
        previous, current, recent, newer, held, erased, order):
    """Last run's state as its key set alone (no ids): members no longer in the pass (erased) are
    named by ``ids_of_gone`` (the key directory), asked only for those keys."""
    newer = [c for c in newer if c not in recent]
    current = [c for c in current if c not in erased]
    stored = lambda ids: {c for c in ids if c in held}  # noqa: E731
    in_pass = [c for c in order if c not in erased]
    directory = {key: contact_id for contact_id, key in KEYS.items()}
    asked: list[int] = []

    def ids_of_gone(keys):
        asked.extend(keys.tolist())
        return pa.array([directory[k] for k in keys.tolist()], pa.string())

    by_ids = changes.segment_change(pa.array(previous, pa.string()), pa.array(current, pa.string()),
                                    recent=recent, newer=newer, stored=stored)
    by_keys = keyed.segment_change(None, None, as_keyed(current, pass_contacts(in_pass) if in_pass else
                                                        keyed.PassContacts(pa.array([], pa.string()),
                                                                           np.zeros(0, np.uint32))),
                                   recent=recent, newer=newer, stored=stored,
                                   previous_set=KeySet.of([KEYS[i] for i in previous], 53), ids_of_gone=ids_of_gone)

    assert sorted(by_keys.added.to_pylist()) == sorted(by_ids.added.to_pylist())
    assert sorted(by_keys.removed.to_pylist()) == sorted(by_ids.removed.to_pylist())
    assert by_keys.member_count == by_ids.member_count
    assert sorted(asked) == sorted(KEYS[c] for c in previous if c in erased)


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


@st.composite
def key_sets(draw):
    """A key space with ids not in key order; last run's and this run's members; the pass's contacts
    (this run's members and others, some of last run's members erased since) in one of the pass
    layouts ``PassContacts.positions_of`` tells apart."""
    size = draw(st.integers(1, 80))
    ids = draw(st.lists(st.text("abcdef", min_size=1, max_size=4), min_size=size, max_size=size, unique=True))
    layout = draw(st.sampled_from(["positions", "rising", "any"]))
    if layout == "positions":
        present = list(range(size))
    else:
        present = sorted(draw(st.sets(st.integers(0, size - 1))))
        if layout == "any":
            present = draw(st.permutations(present))
    previous = draw(st.sets(st.integers(0, size - 1)))
    current = draw(st.sets(st.sampled_from(present))) if present else set()
    return ids, present, previous, current


@settings(max_examples=300, deadline=None)
@given(case=key_sets(), kept=st.booleans())
def test_keyed_diff_agrees_with_a_plain_set_difference(case, kept):
    ids, present, previous, current = case
    state_order = sorted(previous, key=lambda k: ids[k].encode())  # the state is sorted by id
    contacts = keyed.PassContacts(pa.array([ids[k] for k in present], pa.string()), np.array(present, np.uint32))
    added, removed = keyed.diff(pa.array([ids[k] for k in state_order], pa.string()),
                                pa.array(state_order, pa.uint32()),
                                keyed.KeyedMembers(KeySet.of(sorted(current), len(ids)), contacts),
                                KeySet.of(sorted(previous)) if kept else None)
    assert added.to_pylist() == sorted((ids[k] for k in current - previous), key=str.encode)
    assert removed.to_pylist() == sorted((ids[k] for k in previous - current), key=str.encode)


class _Untouchable:
    """Last run's column where the diff must not read it."""

    def __getattr__(self, name):
        raise AssertionError(f"last run's whole column was used ({name})")


class _Rows:
    """Last run's ids, recording the rows taken (and refusing a whole-column filter)."""

    def __init__(self, ids: list[str]):
        self.array, self.taken = pa.array(ids, pa.string()), []

    def take(self, rows):
        self.taken.extend(pa.array(rows).to_pylist())
        return self.array.take(rows)


def test_diff_with_the_kept_bitmap_never_reads_last_runs_columns():
    previous = ["c001", "c002", "c003", "c005"]
    added, removed = keyed.diff(_Untouchable(), _Untouchable(), as_keyed(["c003", "c002", "c004"]),
                                KeySet.of([KEYS[i] for i in previous]))
    assert added.to_pylist() == ["c004"] and removed.to_pylist() == ["c001", "c005"]


def test_only_the_rows_of_members_that_left_the_pass_are_taken_from_last_runs_ids():
    previous = ["c001", "c002", "c003", "c005"]
    contacts = pass_contacts([c for c in UNIVERSE if c != "c005"])  # c005 erased since last run
    last_ids = _Rows(previous)
    added, removed = keyed.diff(last_ids, state_of(previous)[1], as_keyed(["c003", "c002", "c004"], contacts))
    assert added.to_pylist() == ["c004"] and removed.to_pylist() == ["c001", "c005"]
    assert last_ids.taken == [3]  # c001's id came from the pass; only the erased member's row was taken
