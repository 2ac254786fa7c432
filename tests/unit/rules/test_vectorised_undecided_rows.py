"""A group evaluates a costly text leaf (regex, substring, affix over a plain string column) only on
the rows it still needs — where every earlier child of an ``all`` holds, where none of an ``any``
does — and selects exactly what the per-record evaluator selects, through any nesting of all / any /
not, whether the leaf is asked for by one node or shared by several."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from agreement import contacts_batch
from audience.fields import DEFAULT_CATALOG
from audience.rules import evaluate_record, parse_rule
from audience.rules.vectorised import evaluate_segments
from hypothesis import given, settings
from hypothesis import strategies as st

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)
EMAILS = ["a@yahoo.com", "B@HOTMAIL.fr", "c@gmail.com", "İ@gmail.com", "", None, "x@Yahoo.de", "plain"]
COUNTRIES = ["US", "DE", "", None]
TEXT_LEAVES = [
    {"field": "email", "op": "matches", "value": "(?i)@(yahoo|hotmail)\\."},
    {"field": "email", "op": "contains", "value": "GMAIL"},
    {"field": "email", "op": "not_contains", "value": "@"},
    {"field": "email", "op": "starts_with", "value": "i"},
    {"field": "email", "op": "ends_with", "value": ".com"},
]
CHEAP_LEAVES = [
    {"field": "country", "op": "eq", "value": "us"},
    {"field": "score", "op": "gte", "value": 50},
    {"field": "country", "op": "is_empty"},
]

leaves = st.sampled_from(TEXT_LEAVES + CHEAP_LEAVES)
rules = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4).map(lambda c: {"all": c}),
        st.lists(inner, min_size=1, max_size=4).map(lambda c: {"any": c}),
        inner.map(lambda r: {"not": r}),
    ),
    max_leaves=8,
)
people = st.lists(
    st.fixed_dictionaries(
        {
            "email": st.sampled_from(EMAILS),
            "country": st.sampled_from(COUNTRIES),
            "score": st.one_of(st.none(), st.integers(0, 100)),
        }
    ),
    max_size=60,
)


@settings(max_examples=250, deadline=None)
@given(segments=st.lists(rules, min_size=1, max_size=3), found=people, split=st.integers(0, 60))
def test_groups_with_text_leaves_select_what_the_per_record_evaluator_selects(segments, found, split):
    contacts = [{"contact_id": f"c{n:03d}", **p} for n, p in enumerate(found)]
    parsed = [(f"s{n}", parse_rule(rule, DEFAULT_CATALOG)) for n, rule in enumerate(segments)]
    batches = [contacts_batch(part, DEFAULT_CATALOG) for part in (contacts[:split], contacts[split:]) if part]
    selected = evaluate_segments(parsed, batches, as_of=AS_OF, catalog=DEFAULT_CATALOG, threads=1)
    for sid, rule in parsed:
        expected = [c["contact_id"] for c in contacts if evaluate_record(rule, c, as_of=AS_OF, catalog=DEFAULT_CATALOG)]
        assert sorted(selected.get(sid, pa.array([], pa.string())).to_pylist()) == expected


def _regex_rows(monkeypatch) -> list[int]:
    scanned: list[int] = []
    real = pc.match_substring_regex

    def spy(values, *args, **kwargs):
        scanned.append(len(values))
        return real(values, *args, **kwargs)

    monkeypatch.setattr(pc, "match_substring_regex", spy)
    return scanned


def _contacts(rows: int) -> list[dict]:
    return [
        {
            "contact_id": f"c{n:05d}",
            "country": "US" if n % 10 == 0 else "DE",
            "email": f"p{n}@yahoo.com" if n % 3 else f"p{n}@gmail.com",
        }
        for n in range(rows)
    ]


def test_a_regex_reads_only_the_rows_its_group_still_needs_unless_two_segments_share_it(monkeypatch):
    contacts = _contacts(1000)
    rule = parse_rule(
        {
            "all": [
                {"field": "country", "op": "eq", "value": "US"},
                {"not": {"field": "email", "op": "matches", "value": "(?i)@yahoo\\."}},
            ]
        },
        DEFAULT_CATALOG,
    )
    scanned = _regex_rows(monkeypatch)
    found = evaluate_segments(
        [("s", rule)], [contacts_batch(contacts, DEFAULT_CATALOG)], as_of=AS_OF, catalog=DEFAULT_CATALOG, threads=1
    )
    assert found["s"].to_pylist() == [
        c["contact_id"] for c in contacts if c["country"] == "US" and "@gmail" in c["email"]
    ]
    assert scanned == [100]  # the US tenth of the batch, not its 1,000 rows

    # the same regex asked for by two segments is decided once on every row and shared
    scanned.clear()
    regex = {"field": "email", "op": "matches", "value": "(?i)@yahoo\\."}
    segments = [
        ("us", parse_rule({"all": [{"field": "country", "op": "eq", "value": "US"}, regex]}, DEFAULT_CATALOG)),
        ("de", parse_rule({"all": [{"field": "country", "op": "eq", "value": "DE"}, regex]}, DEFAULT_CATALOG)),
    ]
    found = evaluate_segments(
        segments, [contacts_batch(contacts, DEFAULT_CATALOG)], as_of=AS_OF, catalog=DEFAULT_CATALOG, threads=1
    )
    assert len(found["us"]) + len(found["de"]) == sum(1 for c in contacts if "@yahoo" in c["email"])
    assert scanned == [1000]  # one whole scan, not a narrowed one per segment
