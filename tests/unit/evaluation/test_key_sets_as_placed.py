"""A keyed pass writes each batch's placed masks into the segments' bitmaps as the batch is placed
(``keyed._KeySets``), not once the last batch is placed: the sets, the pass's key layout and an id
pass's masks (a batch without keys) are exactly what every mask held to the end gives."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from audience.evaluation import engine, keyed
from audience.evaluation.placement import Slot
from audience.fields import DEFAULT_CATALOG
from audience.keysets import KeySet
from audience.rules import parse_rule
from hypothesis import given, settings
from hypothesis import strategies as st

SEGMENTS = ["a", "b", "c"]


def reference_layout(keys: np.ndarray) -> str:
    count = len(keys)
    rising = count < 2 or bool(np.all(keys[1:] > keys[:-1]))
    if count == 0 or (rising and int(keys[0]) == 0 and int(keys[-1]) == count - 1):
        return "positions"
    return "rising" if rising else "any"


@st.composite
def passes(draw):
    count = draw(st.integers(0, 300))
    layout = draw(st.sampled_from(["positions", "offset", "gaps", "shuffled", "tail_shuffled"]))
    if layout == "positions":
        keys = np.arange(count, dtype=np.uint32)
    elif layout == "offset":  # a shard of a full build: consecutive keys from anywhere
        keys = np.arange(count, dtype=np.uint32) + draw(st.integers(0, 40))
    elif layout == "gaps":  # erased contacts: rising with holes
        keys = np.cumsum(np.array(draw(st.lists(st.integers(1, 9), min_size=count, max_size=count)),
                                  np.int64)).astype(np.uint32)
    else:
        keys = np.arange(count, dtype=np.uint32) * draw(st.integers(1, 3))
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        if layout == "shuffled":
            rng.shuffle(keys)
        else:  # rising, then a stretch in no order
            cut = draw(st.integers(0, count))
            rest = keys[cut:].copy()
            rng.shuffle(rest)
            keys[cut:] = rest
    cuts = sorted(set(draw(st.lists(st.integers(0, count), max_size=8))) | {0, count})
    chosen = {sid: np.array(draw(st.lists(st.booleans(), min_size=count, max_size=count)), np.bool_)
              for sid in SEGMENTS}
    return keys, list(zip(cuts, cuts[1:], strict=False)), chosen


def placed_masks(chosen: dict[str, np.ndarray], a: int, b: int, sliced: bool) -> dict[str, pa.BooleanArray]:
    if not sliced:
        return {sid: pa.array(flags[a:b], pa.bool_()) for sid, flags in chosen.items()}
    # masks that are slices of a longer array (an offset not on a byte)
    return {sid: pa.array(flags, pa.bool_()).slice(a, b - a) for sid, flags in chosen.items()}


@settings(max_examples=300, deadline=None)
@given(drawn=passes(), hint=st.integers(0, 1_000), sliced=st.booleans(), threads=st.sampled_from([1, 2]))
def test_sets_written_as_batches_are_placed_equal_the_sets_of_every_chosen_key(drawn, hint, sliced, threads):
    keys, cuts, chosen = drawn
    sets = keyed._KeySets(list(SEGMENTS), hint)
    for a, b in cuts:
        sets.add(keys[a:b].copy(), placed_masks(chosen, a, b, sliced))
    assert sets.keyed
    assert sets.layout() == reference_layout(keys)
    size = max(hint, int(keys.max()) + 1 if len(keys) else 0)
    assert sets.top + 1 == (int(keys.max()) + 1 if len(keys) else 0)
    found = sets.finish(size, threads)
    for sid, flags in chosen.items():
        expected = KeySet.of(keys[flags], size)
        assert found[sid].size == size
        assert len(found[sid].bits) == (size + 7) // 8
        assert found[sid] == expected
        assert found[sid].keys().tolist() == sorted(keys[flags].tolist())


@settings(max_examples=150, deadline=None)
@given(drawn=passes(), keyless=st.data(), sliced=st.booleans())
def test_a_batch_without_keys_gives_every_batchs_masks_back_as_placed(drawn, keyless, sliced):
    keys, cuts, chosen = drawn
    if not cuts:
        return
    without = keyless.draw(st.integers(0, len(cuts) - 1))
    sets = keyed._KeySets(list(SEGMENTS), 0)
    for n, (a, b) in enumerate(cuts):
        sets.add(None if n == without else keys[a:b].copy(), placed_masks(chosen, a, b, sliced))
    assert not sets.keyed
    masks = sets.masks()
    for sid, flags in chosen.items():
        assert [m.to_pylist() for m in masks[sid]] == [flags[a:b].tolist() for a, b in cuts]


def keyed_pass(count: int, batch: int) -> tuple[dict, list[pa.RecordBatch]]:
    table = pa.table({"contact_id": pa.array([f"c{n:05d}" for n in range(count)], pa.string()),
                      "score": pa.array(np.arange(count) % 100, pa.float64()),
                      "contact_key": pa.array(np.arange(count, dtype=np.uint32))})
    plan = engine.Plan(as_of=datetime(2025, 6, 1, tzinfo=UTC), catalog=DEFAULT_CATALOG,
                       rules={"high": parse_rule({"field": "score", "op": "gte", "value": 50}, DEFAULT_CATALOG),
                              "odd": parse_rule({"field": "score", "op": "in", "value": [1, 3, 5]}, DEFAULT_CATALOG)},
                       slots=[Slot("high"), Slot("odd")], columns=["score"])
    return plan, table.to_batches(max_chunksize=batch)


def test_no_mask_of_the_pass_is_held_to_its_end_and_joined(monkeypatch):
    # guard: before, every segment's masks were kept to the end of the pass and concatenated there,
    # on one core once the last batch was placed
    plan, batches = keyed_pass(2_000, 256)
    joined: list[int] = []
    original = pa.concat_arrays

    def counting(arrays, *args, **kwargs):
        arrays = list(arrays)
        joined.append(len(arrays))
        return original(arrays, *args, **kwargs)

    monkeypatch.setattr(pa, "concat_arrays", counting)
    found = keyed.evaluate(plan, batches, threads=2, key_space_size=2_048)
    assert joined == []
    assert found["high"].keys == KeySet.of(np.flatnonzero(np.arange(2_000) % 100 >= 50), 2_048)
    assert sorted(found["odd"].keys.keys().tolist()) == [n for n in range(2_000) if n % 100 in (1, 3, 5)]


def test_a_keys_only_pass_over_a_full_builds_files_never_joins_every_contacts_key():
    # guard: before, the pass's keys were concatenated and scanned (rising? positions?) after the last batch
    plan, batches = keyed_pass(2_000, 256)
    found = keyed.evaluate(plan, batches, threads=2, key_space_size=2_000)
    contacts = found["high"].contacts
    previous = np.arange(0, 2_000, 7, dtype=np.uint32)
    added, removed = keyed.diff(None, None, found["high"], KeySet.of(previous, 2_000),
                                ids_of_gone=lambda keys: pa.array([], pa.string()))
    assert isinstance(contacts.key_column, list) and len(contacts.key_column) == len(batches)
    assert contacts._layout() == "positions"
    high = set(np.flatnonzero(np.arange(2_000) % 100 >= 50).tolist())
    assert added.to_pylist() == sorted(f"c{n:05d}" for n in high - set(previous.tolist()))
    assert removed.to_pylist() == sorted(f"c{n:05d}" for n in set(previous.tolist()) - high)
    assert contacts.keys.tolist() == list(range(2_000))  # joined when asked


def _thread_minor_faults() -> int:
    import resource

    return resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)).ru_minflt


def test_a_full_builds_batches_are_copied_into_fresh_bitmap_pages_each_page_faulted_once():
    # before, a batch's packed mask was ORed into the bitmap: on a fresh (zeroed, untouched) page the
    # OR's read maps the zero page, then its write faults again - two minor faults per page per segment
    count, segments = 8 * 4096 * 128, [f"s{n}" for n in range(16)]  # 512 kB bitmaps: 128 pages each
    keys = np.arange(count, dtype=np.uint32)
    flags = np.zeros(count, np.bool_)
    flags[::3] = True
    placed = {sid: pa.array(flags, pa.bool_()) for sid in segments}
    sets = keyed._KeySets(segments, count)
    before = _thread_minor_faults()
    sets.add(keys, placed)
    faults = _thread_minor_faults() - before
    pages = len(segments) * count // 8 // 4096
    assert faults < 1.5 * pages
    expected = KeySet.of(keys[flags], count)
    found = sets.finish(count, 1)
    assert all(found[sid] == expected for sid in segments)
