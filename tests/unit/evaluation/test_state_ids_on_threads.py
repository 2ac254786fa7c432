"""``keyed.in_state_order`` hands each segment's state ids (``KeyedMembers.in_order``) in the
mapping's order, exactly as taking them one after another does, on every layout of the pass's keys
— while taking them on several threads at once and holding only a few segments' ids at a time."""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow as pa
from audience.evaluation import keyed
from audience.keysets import KeySet
from hypothesis import given, settings
from hypothesis import strategies as st


def _pass(count: int, layout: str, seed: int) -> keyed.PassContacts:
    """A pass's contacts: ids sorted or shuffled, keys their positions, rising with holes, or any order."""
    rng = np.random.default_rng(seed)
    ids = [f"c{n:05d}" for n in range(count)]
    if layout == "shuffled ids":
        rng.shuffle(ids)
    keys = np.arange(count, dtype=np.uint32)
    if layout == "rising with holes":
        keys = keys * 3 + 1
    elif layout == "any":
        keys = rng.permutation(count * 2)[:count].astype(np.uint32)
    return keyed.PassContacts(pa.array(ids, pa.string()), keys)


@settings(max_examples=80, deadline=None)
@given(
    count=st.integers(0, 300),
    layout=st.sampled_from(["positions", "shuffled ids", "rising with holes", "any"]),
    seed=st.integers(0, 2**16),
    segments=st.integers(0, 7),
    threads=st.sampled_from([1, 2, 3, 5]),
    share=st.floats(0, 1),
)
def test_state_ids_on_threads_equal_the_ones_taken_one_after_another(count, layout, seed, segments, threads, share):
    contacts = _pass(count, layout, seed)
    rng = np.random.default_rng(seed + 1)
    size = int(contacts.keys.max()) + 1 if count else 0

    # each segment its own members (a share of the contacts drawn per segment): a segment handed
    # under another's id would differ
    first = {
        f"s{n}": keyed.KeyedMembers(
            KeySet.of(contacts.keys[rng.random(count) < share * (n + 1) / segments], size), contacts
        )
        for n in range(segments)
    }
    expected = [(sid, found.in_order()) for sid, found in first.items()]
    handed = list(keyed.in_state_order(first, threads=threads))

    assert [sid for sid, _ in handed] == [sid for sid, _ in expected]
    for (_, got), (_, want) in zip(handed, expected, strict=True):
        assert got.ids.to_pylist() == want.ids.to_pylist()
        assert got.keys.to_pylist() == want.keys.to_pylist()
        assert got.ids.to_pylist() == sorted(got.ids.to_pylist())
    assert first == {}  # every segment handed over, its bitmap no longer held by the caller's mapping


def test_state_ids_are_taken_on_several_threads_a_few_segments_at_a_time(monkeypatch):
    contacts = _pass(1000, "positions", 7)
    found = {f"s{n}": keyed.KeyedMembers(KeySet.of(contacts.keys[n::3], 1000), contacts) for n in range(8)}
    real = keyed.KeyedMembers.in_order
    lock = threading.Lock()
    taking, most, names = [0], [0], set()

    def in_order(self):
        with lock:
            taking[0] += 1
            most[0] = max(most[0], taking[0])
            names.add(threading.current_thread().name)
        time.sleep(0.02)  # long enough for a second thread to start its take meanwhile
        try:
            return real(self)
        finally:
            with lock:
                taking[0] -= 1

    monkeypatch.setattr(keyed.KeyedMembers, "in_order", in_order)
    handed = []
    for sid, ordered in keyed.in_state_order(found, threads=2):
        handed.append(sid)
        assert len(ordered) == len(contacts.keys[int(sid[1:]) :: 3])
    assert handed == [f"s{n}" for n in range(8)]
    assert most[0] == 2  # two takes at once, never more than the threads asked for
    assert len(names) == 2 and threading.current_thread().name not in names
