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
