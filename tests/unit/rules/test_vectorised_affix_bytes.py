"""An affix leaf (starts_with / ends_with) on a plain string column is answered from the values' bytes
(`vectorised._folded_affix`: the data buffer read by numpy at each place of the affix, from the end
inwards for a suffix), folding with ``utf8_lower`` only the values that reach a non-ASCII byte while
still matching. The answers must stay exactly Arrow's ``utf8_lower`` then ``ends_with`` /
``starts_with`` (the old path) and the per-record evaluator's: non-ASCII text, code points folding
into ASCII (İ, the Kelvin sign) or changing length (Ⱥ), nulls, empty strings, short values and
sliced arrays whose offsets do not start at 0."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from agreement import AS_OF, CATALOG, contacts_batch
from audience.rules import evaluate_record, parse_rule
from audience.rules import vectorised as v
from audience.rules.vectorised import compile_segments
from hypothesis import given, settings
from hypothesis import strategies as st

PIECES = ["@gmail.com", "@GMAIL.COM", "@gmaİl.com", "GMA\u0130L", "\u212a", "k", "K", "ſ", "s", "Ⱥ", "ⱥ", "é", "É",
          ".com", ".CoM", "x", "@", "ü", "中", "\U0001f600", "a", ""]
LITERALS = ["@gmail.com", "@GMAIL.com", ".com", "com", "k", "K", "s", "x", "@", "gmail", "a.com", "Jo", "@gmaİl.com"]
ROWS = 1_100  # above `vectorised._ASCII_CHECK_FROM`: the byte path applies

texts = st.one_of(st.none(), st.lists(st.sampled_from(PIECES), max_size=5).map("".join),
                  st.text(max_size=12))  # any code points, any length (shorter than the affix too)


def _long(values: list[str | None]) -> list[str | None]:
    return (values * (ROWS // len(values) + 1))[:ROWS]


class _NoAsciiLower:
    """Arrow's ``ascii_lower`` made to fail while a block runs (the old path lowered whole columns)."""

    def __enter__(self):
        self.original = pc.ascii_lower

        def refused(values, *args, **kwargs):
            raise AssertionError(f"ascii_lower over {len(values)} values")

        pc.ascii_lower = refused

    def __exit__(self, *exc):
        pc.ascii_lower = self.original


@settings(max_examples=150, deadline=None)
@given(values=st.lists(texts, min_size=1, max_size=40), offset=st.integers(0, 9), literal=st.sampled_from(LITERALS),
       suffix=st.booleans())
def test_affix_from_the_values_bytes_equals_arrows_utf8_lower_then_affix(values, offset, literal, suffix):
    column = pa.array(["pad", None, "x"] + _long(values), pa.string()).slice(3 + offset % 3)
    wanted = v.fold(literal)
    with _NoAsciiLower():  # on the old code: whole columns lowered by ascii_lower
        found = v._folded_affix(column, wanted, suffix=suffix)
    kernel = pc.ends_with if suffix else pc.starts_with
    expected = kernel(pc.utf8_lower(column), wanted)
    assert found.equals(expected)  # nulls stay null, every other answer the old path's


@settings(max_examples=60, deadline=None)
@given(values=st.lists(texts, min_size=1, max_size=30), offset=st.integers(0, 7), literal=st.sampled_from(LITERALS),
       op=st.sampled_from(["starts_with", "ends_with"]), negated=st.booleans())
def test_affix_leaves_on_long_columns_agree_with_the_per_record_evaluator(values, offset, literal, op, negated):
    contacts = [{"contact_id": f"c{n:05d}", "email": email} for n, email in enumerate(_long(values))]
    batch = contacts_batch(contacts).slice(offset)
    leaf = {"field": "email", "op": op, "value": literal}
    rule = parse_rule({"not": leaf} if negated else leaf, CATALOG)
    with _NoAsciiLower():
        found = compile_segments([("s", rule)], as_of=AS_OF, catalog=CATALOG).masks(batch)["s"]
    assert found.null_count == 0
    assert found.to_pylist() == [evaluate_record(rule, c, as_of=AS_OF, catalog=CATALOG) for c in contacts[offset:]]


def test_an_ascii_suffix_leaf_reads_bytes_without_lowering_the_column(monkeypatch):
    # guard (pure speed): before, each batch's whole column was lowered by ascii_lower, then ends_with
    # ran over it, and every byte of the column was scanned for non-ASCII ones
    calls: list[str] = []
    for name in ("ascii_lower", "utf8_lower", "ends_with", "starts_with"):
        original = getattr(pc, name)
        monkeypatch.setattr(pc, name, lambda values, *a, _o=original, _n=name, **k:
                            calls.append(_n) or _o(values, *a, **k))
    emails = [f"jos\u00e9.{n}@GMAIL.com" if n % 3 else f"Ann.{n}@yahoo.com" for n in range(ROWS)]
    found = v._folded_affix(pa.array(emails, pa.string()), "@gmail.com", suffix=True)
    assert found.to_pylist() == [n % 3 != 0 for n in range(ROWS)]
    assert calls == []
