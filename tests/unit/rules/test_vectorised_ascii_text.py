"""String leaves on mostly-ASCII text (`vectorised._lower`, `_folded_affix`) take cheaper paths than
Arrow's ``utf8_lower``; the answers must stay exactly the per-record evaluator's. Batches here are
longer than `vectorised._ASCII_CHECK_FROM` rows, or the shortcuts do not apply."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from agreement import AS_OF, CATALOG, contacts_batch
from audience.rules import evaluate_record, parse_rule
from audience.rules import vectorised as v
from audience.rules.vectorised import compile_segments
from hypothesis import given, settings
from hypothesis import strategies as st

# Code points whose folding crosses into ASCII (İ -> i, Kelvin sign -> k) or changes byte length
# (Ⱥ -> ⱥ), long s (case-folds to s in regex engines, not in lower), and plain accents.
PIECES = ["@gmail.com", "@GMAIL.COM", "@gmaİl.com", "@GMA\u0130L.COM", "\u212a", "k", "ſ", "s", "Ⱥ", "é", "x.",
          ".COM", "a", "B", "@", "Ü", "ü", ""]
ROWS = 1_100  # above `vectorised._ASCII_CHECK_FROM`


def _texts(draw_pieces: list[list[str] | None]) -> list[str | None]:
    return [None if pieces is None else "".join(pieces) for pieces in draw_pieces]


def _column(values: list[str | None]) -> list[str | None]:
    """``values`` repeated to a batch long enough for the shortcuts."""
    return (values * (ROWS // len(values) + 1))[:ROWS]


text_rows = st.lists(st.one_of(st.none(), st.lists(st.sampled_from(PIECES), max_size=4)), min_size=1, max_size=30)


@settings(max_examples=120, deadline=None)
@given(rows=text_rows, offset=st.integers(0, 7),
       literal=st.sampled_from(["@gmail.com", "@GMAIL.com", ".com", "a", "x.", "k", "s", "Ⱥ", "@gmaİl.com"]),
       op=st.sampled_from(["starts_with", "ends_with"]), negated=st.booleans())
def test_affix_leaves_on_long_batches_agree_with_the_per_record_evaluator(rows, offset, literal, op, negated):
    emails = _column(_texts(rows))
    contacts = [{"contact_id": f"c{n:05d}", "email": email} for n, email in enumerate(emails)]
    batch = contacts_batch(contacts).slice(offset)
    rule = {"field": "email", "op": op, "value": literal}
    rule = {"not": rule} if negated else rule
    evaluator = compile_segments([("s", parse_rule(rule, CATALOG))], as_of=AS_OF, catalog=CATALOG)
    found = evaluator.masks(batch)["s"].to_pylist()
    expected = [evaluate_record(parse_rule(rule, CATALOG), c, as_of=AS_OF, catalog=CATALOG)
                for c in contacts[offset:]]
    assert found == expected


@settings(max_examples=80, deadline=None)
@given(rows=text_rows, offset=st.integers(0, 7))
def test_folding_a_long_column_gives_utf8_lowers_result_ascii_or_not(rows, offset):
    values = pa.array(_column(_texts(rows)), pa.string()).slice(offset)
    assert v._lower(values).equals(pc.utf8_lower(values))
    for literal in ("@gmail.com", "k", "s"):
        for suffix, kernel in ((True, pc.ends_with), (False, pc.starts_with)):
            assert v._folded_affix(values, literal, suffix=suffix).equals(kernel(pc.utf8_lower(values), literal))


@pytest.fixture
def utf8_lower_calls(monkeypatch) -> list[int]:
    """The lengths of the arrays ``pc.utf8_lower`` folds while the test runs."""
    calls: list[int] = []
    original = pc.utf8_lower

    def counting(values, *args, **kwargs):
        calls.append(len(values))
        return original(values, *args, **kwargs)

    monkeypatch.setattr(pc, "utf8_lower", counting)
    return calls


def test_an_ends_with_leaf_folds_only_the_values_whose_ends_are_not_ascii(utf8_lower_calls):
    # guard (pure speed): before, every batch's whole column was folded by utf8_lower for the leaf
    emails = [f"jos\u00e9.{n}@GMAIL.com" if n % 3 else f"ann.{n}@yahoo.com" for n in range(ROWS)]
    emails[5] = "x@GMA\u0130L.COM"  # İ folds to i: this one does end with @gmail.com
    folded = utf8_lower_calls
    batch = contacts_batch([{"contact_id": f"c{n:05d}", "email": e} for n, e in enumerate(emails)])
    rule = parse_rule({"field": "email", "op": "ends_with", "value": "@gmail.com"}, CATALOG)
    mask = compile_segments([("s", rule)], as_of=AS_OF, catalog=CATALOG).masks(batch)["s"].to_pylist()
    assert mask == [n % 3 != 0 or n == 5 for n in range(ROWS)]
    assert folded == [1]  # only the value with "İ" among its last ten bytes


def test_an_ascii_list_columns_items_are_folded_without_utf8_lower(utf8_lower_calls):
    # guard (pure speed): before, every batch's list items were folded by utf8_lower
    tags = [["VIP", "newsletter"], ["trial"], [], None, ["b2b", "Vip"]] * (ROWS // 5)
    calls = utf8_lower_calls
    batch = contacts_batch([{"contact_id": f"c{n:05d}", "tags": t} for n, t in enumerate(tags)])
    rule = parse_rule({"field": "tags", "op": "has_any", "value": ["vip"]}, CATALOG)
    mask = compile_segments([("s", rule)], as_of=AS_OF, catalog=CATALOG).masks(batch)["s"].to_pylist()
    assert mask == [n % 5 in (0, 4) for n in range(len(tags))]
    assert calls == []
