"""A batch's list column answers its has_any / has_all / has_none leaves from each row's counts of the
wanted items packed as digits of one integer (`vectorised._ListItems._digits_per_row`: a running sum
of the items' digit weights read at the rows' starts and ends), or — when the counts do not fit in 63
bits — from each item's row (`_ListItems._numbered`). Both must give exactly Arrow's per-item lookup
(``is_in`` then a count per row, the path without wanted items) and the per-record evaluator's answers."""

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

ITEMS = ["vip", "VIP", "trial", "İnfo", "info", "", "b2b", "x", "ſ", "s"]
WANTED = ["vip", "trial", "info", "", "s", "b2b"]


def _listed(rows: list[list[str | None] | None], wanted: list[str], offset: int) -> v._ListItems:
    """`vectorised._list_items` of a list column of ``rows`` sliced after ``offset`` leading rows."""
    column = pa.array([["pad", "vip"]] * offset + rows, pa.list_(pa.string())).slice(offset)
    return v._list_items(column, {item: n for n, item in enumerate(wanted)})


def _by_arrow(items: v._ListItems, group: list[str]) -> list[bool]:
    """Whether each row holds any of ``group``: Arrow's lookup of every item, counted per row."""
    hits = pc.cast(pc.fill_null(pc.is_in(items.flat, value_set=pa.array(group, pa.string())), False), pa.int64())
    running = np.concatenate([[0], np.cumsum(hits.to_numpy(zero_copy_only=False))])
    return (running[items.ends.to_numpy()] - running[items.starts.to_numpy()] > 0).tolist()


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.one_of(st.none(), st.lists(st.one_of(st.none(), st.sampled_from(ITEMS)), max_size=9)),
                     min_size=0, max_size=30),
       offset=st.integers(0, 3),
       groups=st.lists(st.lists(st.sampled_from(WANTED), min_size=1, max_size=3), min_size=1, max_size=4),
       many=st.booleans())
def test_groups_answered_from_the_rows_digits_equal_arrows_lookup_counted_per_row(rows, offset, groups, many):
    # ``many``: 60 wanted items, so a row of 2+ items needs 2+ bits a digit: over 63 bits, the rows path
    wanted = WANTED + [f"w{n}" for n in range(54)] if many else WANTED
    items = _listed(rows, wanted, offset)
    repeats: list[int] = []
    original = np.repeat
    np.repeat = lambda *a, **k: repeats.append(1) or original(*a, **k)
    try:
        answers = [items.has([v.fold(item) for item in group]) for group in groups]
    finally:
        np.repeat = original
    longest = max((len(r) for r in rows if r is not None), default=0)
    fits = longest.bit_length() * len(wanted) <= 63
    assert (repeats == []) == fits or not rows  # rows numbered only when the digits do not fit
    for group, found in zip(groups, answers, strict=True):
        assert found.null_count == 0
        assert found.to_pylist() == _by_arrow(items, [v.fold(item) for item in group])


@settings(max_examples=100, deadline=None)
@given(lists=st.lists(st.one_of(st.none(), st.lists(st.one_of(st.none(), st.sampled_from(ITEMS)), max_size=6)),
                      min_size=1, max_size=20),
       leaves=st.lists(st.tuples(st.sampled_from(["has_any", "has_all", "has_none"]),
                                 st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3)), min_size=1, max_size=4),
       offset=st.integers(0, 5))
def test_list_leaves_from_the_rows_digits_agree_with_the_per_record_evaluator(lists, leaves, offset):
    contacts = [{"contact_id": f"c{n}", "tags": tags} for n, tags in enumerate(lists)]
    rules = [(f"s{n}", parse_rule({"field": "tags", "op": op, "value": value}, CATALOG))
             for n, (op, value) in enumerate(leaves)]
    offset = min(offset, len(contacts))
    repeats: list[int] = []
    original = np.repeat
    np.repeat = lambda *a, **k: repeats.append(1) or original(*a, **k)
    try:
        masks = compile_segments(rules, as_of=AS_OF, catalog=CATALOG).masks(contacts_batch(contacts).slice(offset))
    finally:
        np.repeat = original
    assert repeats == []  # on the old code each batch's items had their row numbers repeated
    for sid, rule in rules:
        expected = [evaluate_record(rule, c, as_of=AS_OF, catalog=CATALOG) for c in contacts[offset:]]
        assert masks[sid].to_pylist() == expected
