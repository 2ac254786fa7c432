"""A slice's numeric aggregates (count, sum, avg, min, max) are answered in numpy, never laid out as
Arrow arrays for `condition_mask`: the answers must be exactly `condition_mask`'s over the aggregate
as an Arrow array (missing where a contact has none), for every numeric operator the run answers so,
whatever the values (NaN, signed zeros and infinities, counts up to 2**53) and the literal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import numpy as np
import pyarrow as pa
from audience.fields import DEFAULT_CATALOG, FieldType
from audience.rules import parse_rule, vectorised
from audience.rules.operators import OPERATORS
from hypothesis import given, settings
from hypothesis import strategies as st

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)
NUMBERS = st.sampled_from([0.0, -0.0, 1.0, 2.0, 2.5, -3.0, 40.0, 1e300, float("inf"), float("-inf"), float("nan"),
                           2.0**53, 2.0**53 + 2, 9007199254740993.0])
LITERALS = st.one_of(st.integers(-3, 4), st.sampled_from([0.5, 0.99, 1.0, 1.5, -0.0, 1e300, 2**53 + 1, 2**63,
                                                          float("inf"), float("nan")]))
NUMPY_OPS = sorted(vectorised._NUMPY_OPS)


def _literal(op: str, draw) -> object:
    if op == "between":
        return sorted([draw(LITERALS), draw(LITERALS)], key=float)
    return None if op in ("is_empty", "is_not_empty") else draw(LITERALS)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), op=st.sampled_from(NUMPY_OPS), counts=st.booleans())
def test_numeric_answers_are_condition_masks_over_the_aggregate_as_an_arrow_array(data, op, counts):
    assert set(NUMPY_OPS) <= set(OPERATORS[FieldType.NUMBER])
    literal = _literal(op, data.draw)
    if counts:  # a count: integers, every contact has one (0 without events)
        values = np.array(data.draw(st.lists(st.sampled_from([0, 1, 2, 3, 2**52 + 1, 2**53]), max_size=12)), np.int64)
        present = None
    else:
        values = np.array(data.draw(st.lists(NUMBERS, max_size=12)), np.float64)
        present = np.array(data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values))), np.bool_)
        present = data.draw(st.sampled_from([present, None]))
    aggregate = pa.array(values, pa.float64(), mask=None if present is None else ~present)
    expected = vectorised._numpy_mask(vectorised.condition_mask(FieldType.NUMBER, op, literal, aggregate, AS_OF,
                                                                lambda: aggregate))
    found = vectorised._numeric_answers(op, literal, values, present)
    assert found.dtype == np.uint8
    assert found.tolist() == expected.astype(np.uint8).tolist()


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(["gte", "gt", "lt", "lte", "eq", "neq"]), literal=LITERALS)
def test_a_count_answered_by_whether_any_event_is_selected_answers_as_its_comparison(op, literal):
    """When a count's answer is the same for every count from 1 on, the contacts are only marked:
    the answer for 0 and for any larger count must be the comparison's."""
    shortcut = vectorised._count_answers(op, literal)
    if shortcut is None:
        return
    compare = vectorised._NUMPY_COMPARE.get(op)
    answers = [bool(compare(float(n), float(literal))) if compare else float(n) != float(literal)
               for n in (0, 1, 2, 3, 7, 2**40)]
    assert answers == [shortcut[0], *[shortcut[1]] * 5]


def test_a_slice_answers_numeric_aggregates_without_arrow_comparisons():
    """Counts, sums, averages, minima and maxima under comparisons are answered without building the
    aggregate's Arrow array and calling `condition_mask` (only ``in`` lists still do)."""
    rules = {
        "twice": {"event": "buy", "aggregate": {"fn": "count", "op": "gte", "value": 2}},
        "any": {"event": "buy", "within_last_days": 3},
        "none": {"event": "buy", "aggregate": {"fn": "count", "op": "lt", "value": 1}},
        "spent": {"event": "buy", "aggregate": {"fn": "sum", "field": "amount", "op": "between", "value": [5, 20]}},
        "average": {"event": "buy", "aggregate": {"fn": "avg", "field": "amount", "op": "neq", "value": 5}},
        "least": {"event": "buy", "aggregate": {"fn": "min", "field": "amount", "op": "is_empty"}},
        "most": {"event": "buy", "aggregate": {"fn": "max", "field": "amount", "op": "lte", "value": 6}},
        "listed": {"event": "buy", "aggregate": {"fn": "count", "op": "in", "value": [1, 3]}},
    }
    conditions = {key: parse_rule(rule, DEFAULT_CATALOG) for key, rule in rules.items()}
    batch = pa.record_batch({
        "contact_id": pa.array(["a", "a", "b", "c", "d"], pa.string()),
        "event": pa.array(["buy", "buy", "buy", "open", "buy"], pa.string()),
        "occurred_at": pa.array([AS_OF - timedelta(days=d) for d in (1, 5, 4, 1, 2)], pa.timestamp("us", "UTC")),
        "properties": pa.array([[("amount", "4")], [("amount", "6")], [("amount", "30")], [], [("amount", "x")]],
                               pa.map_(pa.string(), pa.string())),
    })
    decided = []
    real = vectorised.condition_mask

    def counted(*args, **kwargs):
        decided.append(args[1])
        return real(*args, **kwargs)

    with patch.object(vectorised, "condition_mask", counted):
        ids, answers = vectorised._aggregate(vectorised._SlicePlan(conditions, AS_OF), [batch])
    assert decided == ["in"]
    assert ids.to_pylist() == ["a", "b", "c", "d"]
    assert {key: found.tolist() for key, found in answers.items()} == {
        "twice": [1, 0, 0, 0], "any": [1, 0, 0, 1], "none": [0, 0, 1, 0], "spent": [1, 0, 0, 0],
        "average": [0, 1, 1, 1], "least": [0, 0, 1, 1], "most": [1, 0, 0, 0], "listed": [0, 1, 0, 1]}


@settings(max_examples=300, deadline=None)
@given(flags=st.lists(st.one_of(st.booleans(), st.none()), max_size=80), start=st.integers(0, 20),
       length=st.integers(0, 80))
def test_a_masks_bits_unpacked_by_numpy_are_arrows_own_conversion_at_any_offset(flags, start, length):
    """A slice's runs are cut where a comparison's bits are set: unpacked by numpy from the buffer
    (any offset: sliced arrays), they must be Arrow's conversion, nulls answered false."""
    mask = pa.array(flags, pa.bool_()).slice(min(start, len(flags)), length)
    found = vectorised._bits(mask)
    assert found.dtype == np.bool_
    assert found.tolist() == [bool(flag) for flag in mask.to_pylist()]
