"""Number leaves (eq, gt, gte, lt, lte, between, and their negations) on a batch long enough that numpy
compares the values in place (`vectorised._float_values`): the masks are the per-record evaluator's,
with missing values, NaN, infinities, -0.0 and a sliced batch."""

from __future__ import annotations

from unittest import mock

from agreement import AS_OF, CATALOG, contacts_batch
from audience.rules import evaluate_record, parse_rule
from audience.rules import vectorised as v
from audience.rules.vectorised import compile_segments
from hypothesis import given, settings
from hypothesis import strategies as st

ROWS = 1_100  # above `vectorised._NUMPY_FROM`
SCORES = st.one_of(st.none(), st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 0.0]),
                   st.floats(-100, 100, allow_nan=False), st.integers(-5, 100).map(float))
OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "between"]


@settings(max_examples=120, deadline=None)
@given(scores=st.lists(SCORES, min_size=1, max_size=25), offset=st.integers(0, 7), op=st.sampled_from(OPS),
       bound=st.sampled_from([0.0, -0.0, 50.0, 49.5, -3.0]), width=st.sampled_from([0.0, 10.0, 60.0]),
       negated=st.booleans())
def test_number_leaves_on_long_batches_agree_with_the_per_record_evaluator(scores, offset, op, bound, width,
                                                                           negated):
    column = (scores * (ROWS // len(scores) + 1))[:ROWS]
    contacts = [{"contact_id": f"c{n:05d}", "score": score} for n, score in enumerate(column)]
    batch = contacts_batch(contacts).slice(offset)
    rule = {"field": "score", "op": op, "value": [bound, bound + width] if op == "between" else bound}
    rule = {"not": rule} if negated else rule
    parsed = parse_rule(rule, CATALOG)
    evaluator = compile_segments([("s", parsed)], as_of=AS_OF, catalog=CATALOG)
    with mock.patch.object(v.pc, "greater_equal", side_effect=AssertionError("compared by Arrow")), \
            mock.patch.object(v.pc, "less_equal", side_effect=AssertionError("compared by Arrow")):
        found = evaluator.masks(batch)["s"]
    assert found.null_count == 0
    expected = [evaluate_record(parsed, c, as_of=AS_OF, catalog=CATALOG) for c in contacts[offset:]]
    assert found.to_pylist() == expected

