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
