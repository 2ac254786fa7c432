"""A leaf over a dictionary-encoded column whose indices have nulls (missing values) spreads its
per-value answers without filling the nulls first (`vectorised._spread_missing`: the index buffer read
by numpy, a null's slot — any number — replaced by the missing value's answer from the validity bits).
The masks must equal `spread` over the indices filled with the missing value's row (the old path) and
the per-record evaluator's answers, for every index width, sliced indices and garbage in null slots."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from agreement import AS_OF, CATALOG, contacts_batch
from audience.rules import evaluate_record, parse_rule
from audience.rules import vectorised as v
from audience.rules.vectorised import compile_segments
from hypothesis import given, settings
from hypothesis import strategies as st

KINDS = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32()]


@st.composite
def nullable_codes(draw):
    size = draw(st.integers(1, 6))  # distinct values; the answers hold one more: the missing value's
    shape = draw(st.sampled_from(["none", "all", "one true", "one false", "any"]))
    answers = {
        "none": [False] * (size + 1),
        "all": [True] * (size + 1),
        "one true": [i == draw(st.integers(0, size)) for i in range(size + 1)],
        "one false": [i != size for i in range(size + 1)],
        "any": draw(st.lists(st.booleans(), min_size=size + 1, max_size=size + 1)),
    }[shape]
    codes = draw(st.lists(st.one_of(st.none(), st.integers(0, size - 1)), min_size=1, max_size=40))
    garbage = draw(st.integers(0, 127))  # what a null's slot holds
    return answers, codes, draw(st.sampled_from(KINDS)), draw(st.integers(0, 9)), garbage


@settings(max_examples=300, deadline=None)
@given(case=nullable_codes())
def test_spreading_over_nullable_indices_equals_spreading_over_the_filled_indices(case):
    answers, codes, kind, offset, garbage = case
    size = len(answers) - 1
    padded = [0] * offset + codes
    raw = np.array([garbage if c is None else c for c in padded]).astype(kind.to_pandas_dtype())
    validity = pa.array([c is not None for c in padded], pa.bool_()).buffers()[1]
    indices = pa.Array.from_buffers(kind, len(padded), [validity, pa.py_buffer(raw.tobytes())],
                                    sum(c is None for c in padded)).slice(offset)
    decided = v.spreadable(pa.array(answers, pa.bool_()))
    valid = np.array([c is not None for c in codes], np.bool_)
    filled: list[int] = []
    with_fill = pc.fill_null
    pc.fill_null = lambda values, *a, **k: (pa.types.is_integer(values.type) and filled.append(len(values))) \
        or with_fill(values, *a, **k)
    try:
        found = v._spread_missing(decided, indices, valid)
    finally:
        pc.fill_null = with_fill
    assert filled == []
    expected = v.spread(decided, pc.fill_null(indices, pa.scalar(size, kind)))
    assert found.null_count == 0
    assert found.equals(expected)
    assert found.to_pylist() == [answers[size if c is None else c] for c in codes]


@settings(max_examples=80, deadline=None)
@given(companies=st.lists(st.one_of(st.none(), st.sampled_from(["Acme", "Umbrella Health", "", "health co"])),
                          min_size=1, max_size=30),
       offset=st.integers(0, 5),
       leaf=st.sampled_from([{"op": "is_not_empty"}, {"op": "is_empty"}, {"op": "not_contains", "value": "health"},
                             {"op": "eq", "value": "acme"}, {"op": "neq", "value": "Acme"},
                             {"op": "in", "value": ["acme", ""]}, {"op": "not_in", "value": ["acme"]}]))
def test_leaves_over_dictionary_columns_with_missing_values_agree_with_the_per_record_evaluator(
        companies, offset, leaf):
    contacts = [{"contact_id": f"c{n}", "company": company} for n, company in enumerate(companies)]
    plain = contacts_batch(contacts)
    index = plain.schema.get_field_index("company")
    offset = min(offset, len(contacts))
    batch = plain.set_column(index, "company", plain.column(index).dictionary_encode()).slice(offset)
    rule = parse_rule({"field": "company", **leaf}, CATALOG)
    filled: list[int] = []
    with_fill = pc.fill_null
    pc.fill_null = lambda values, *a, **k: (pa.types.is_integer(values.type) and filled.append(len(values))) \
        or with_fill(values, *a, **k)
    try:
        found = compile_segments([("s", rule)], as_of=AS_OF, catalog=CATALOG).masks(batch)["s"]
    finally:
        pc.fill_null = with_fill
    assert found.to_pylist() == [evaluate_record(rule, c, as_of=AS_OF, catalog=CATALOG)
                                 for c in contacts[offset:]]
    assert filled == []  # on the old code: the indices with nulls were filled by Arrow per batch and column
