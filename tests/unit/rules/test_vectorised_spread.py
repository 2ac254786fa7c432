"""`spread` (a per-value or per-index-row answer laid out over a batch's codes) is exactly a lookup,
on each of its paths: no true answer, all true, one value different from the others, the general take."""

from __future__ import annotations

import pyarrow as pa
from audience.rules.vectorised import spread, spreadable
from hypothesis import given, settings
from hypothesis import strategies as st


@st.composite
def answers_and_codes(draw):
    size = draw(st.integers(1, 6))
    shape = draw(st.sampled_from(["none", "all", "one true", "one false", "any"]))
    answers = {
        "none": [False] * size,
        "all": [True] * size,
        "one true": [i == size // 2 for i in range(size)],
        "one false": [i != size // 2 for i in range(size)],
        "any": draw(st.lists(st.booleans(), min_size=size, max_size=size)),
    }[shape]
    codes = draw(st.lists(st.integers(0, size - 1), max_size=20))
    return answers, codes, draw(st.sampled_from([pa.int8(), pa.int32()]))


@settings(max_examples=300, deadline=None)
@given(case=answers_and_codes())
def test_spread_is_a_lookup_of_each_code(case):
    answers, codes, kind = case
    found = spread(spreadable(pa.array(answers, pa.bool_())), pa.array(codes, kind))
    assert found.type == pa.bool_() and found.null_count == 0
    assert found.to_pylist() == [answers[c] for c in codes]


def test_the_general_take_skips_arrows_bounds_check_on_codes_in_range(monkeypatch):
    """The codes a leaf spreads are in range by construction (a dictionary's indices, activity index
    rows), so the take runs without Arrow's bounds check — more than half of its CPU per batch."""
    from audience.rules import vectorised

    asked: list[bool] = []
    real_take = vectorised.pc.take

    def take(data, indices, *, boundscheck=True, **kwargs):
        asked.append(boundscheck)
        return real_take(data, indices, boundscheck=boundscheck, **kwargs)

    monkeypatch.setattr(vectorised.pc, "take", take)
    found = spread(spreadable(pa.array([True, False, True, False], pa.bool_())), pa.array([3, 0, 2, 1, 0], pa.int32()))
    assert found.to_pylist() == [False, True, True, False, True]
    assert asked == [False]


@settings(max_examples=200, deadline=None)
@given(flags=st.lists(st.one_of(st.none(), st.integers(0, 1)), max_size=70), offset=st.integers(0, 9))
def test_bytes_packed_into_a_mask_are_arrows_cast_to_boolean(flags, offset):
    from audience.rules import vectorised

    values = pa.array([1] * offset + flags, pa.uint8()).slice(offset)
    found = vectorised._packed_mask(values)
    assert found.equals(values.cast(pa.bool_()))
    assert found.to_pylist() == [None if f is None else bool(f) for f in flags]


def test_the_general_take_is_packed_into_the_mask_without_arrows_cast(monkeypatch):
    """The bytes a spread takes are packed by numpy: Arrow's cast to boolean was ~70 of ~130 us per
    131,072 codes, on ~18 spreads of each batch of the bench's 50 segments."""
    from audience.rules import vectorised

    cast: list[object] = []
    real_cast = vectorised.pc.cast
    monkeypatch.setattr(vectorised.pc, "cast", lambda *a, **k: cast.append(a[1:]) or real_cast(*a, **k))
    decided = spreadable(pa.array([True, False, True, False, False], pa.bool_()))
    cast.clear()
    codes = pa.array([3, 0, 2, 1, 0, 4, 2, 2, 0] * 15, pa.int32()).slice(3)
    found = spread(decided, codes)
    assert found.to_pylist() == [[True, False, True, False, False][c] for c in codes.to_pylist()]
    assert found.null_count == 0
    assert cast == []


@settings(max_examples=200, deadline=None)
@given(case=answers_and_codes(), offset=st.integers(0, 9),
       kind=st.sampled_from([pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32()]))
def test_spread_over_sliced_codes_of_every_width_is_a_lookup_without_arrows_comparison(case, offset, kind):
    from unittest import mock

    from audience.rules import vectorised

    answers, codes, _ = case
    sliced = pa.array([0] * offset + codes, kind).slice(offset)
    with mock.patch.object(vectorised.pc, "equal", side_effect=AssertionError("compared by Arrow")), \
            mock.patch.object(vectorised.pc, "not_equal", side_effect=AssertionError("compared by Arrow")):
        found = spread(spreadable(pa.array(answers, pa.bool_())), sliced)
    assert found.type == pa.bool_() and found.null_count == 0
    assert found.to_pylist() == [answers[c] for c in codes]
