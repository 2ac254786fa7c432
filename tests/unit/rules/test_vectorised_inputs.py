"""The vectorised evaluator takes the batches real snapshots produce: other Arrow types for the same
logical values, dictionary-encoded strings, nanosecond timestamps, empty batches, streamed masks."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
from agreement import AS_OF, CATALOG, contacts_batch, events_table
from audience.rules import evaluate_record, parse_rule
from audience.rules.vectorised import compile_segments, evaluate_segments

CONTACTS = [
    {"contact_id": "a", "city": "Paris", "score": 10, "last_clicked_at": AS_OF - timedelta(days=1)},
    {"contact_id": "b", "city": "", "score": None, "last_clicked_at": AS_OF - timedelta(days=30)},
    {"contact_id": "c", "city": "LYON", "score": 3, "last_clicked_at": None},
    {"contact_id": "d", "city": None, "score": 10.5},
]
EVENTS = [
    {"contact_id": "a", "event": "purchase", "occurred_at": AS_OF - timedelta(hours=1), "properties": {"amount": "5"}},
    {"contact_id": "c", "event": "purchase", "occurred_at": AS_OF - timedelta(days=3), "properties": {"amount": "7"}},
]
RULES = {
    "paris_or_lyon": {"field": "city", "op": "in", "value": ["paris", "lyon"]},
    "not_paris": {"field": "city", "op": "neq", "value": "paris"},
    "no_city": {"field": "city", "op": "is_empty"},
    "scored": {"field": "score", "op": "gte", "value": 10},
    "clicked_this_week": {"field": "last_clicked_at", "op": "within_last_days", "value": 7},
    "bought_today": {"event": "purchase", "within_last_days": 1},
    "spent": {"event": "purchase", "aggregate": {"fn": "sum", "field": "amount", "op": "gte", "value": 5}},
}
EXPECTED = {"paris_or_lyon": ["a", "c"], "not_paris": ["b", "c", "d"], "no_city": ["b", "d"], "scored": ["a", "d"],
            "clicked_this_week": ["a"], "bought_today": ["a"], "spent": ["a", "c"]}


def parsed():
    return [(sid, parse_rule(rule, CATALOG)) for sid, rule in RULES.items()]


def members(found):
    return {sid: sorted(ids.to_pylist()) for sid, ids in found.items()}


def test_the_expected_members_agree_with_the_per_record_evaluator():
    for sid, rule in parsed():
        chosen = [c["contact_id"] for c in CONTACTS if evaluate_record(
            rule, c, as_of=AS_OF, catalog=CATALOG, events=[e for e in EVENTS if e["contact_id"] == c["contact_id"]])]
        assert chosen == EXPECTED[sid], sid


def test_other_arrow_types_for_the_same_values_select_the_same_members():
    batch = contacts_batch(CONTACTS)
    retyped = {
        "city": pa.large_string(),
        "score": pa.int64(),
        "last_clicked_at": pa.timestamp("ns", tz="UTC"),
    }
    columns = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
    for name, arrow_type in retyped.items():
        columns[name] = columns[name].cast(arrow_type, safe=False) if name != "score" else pa.array(
            [10, None, 3, None], pa.int64())
    expected = dict(EXPECTED, scored=["a"])  # d's 10.5 is not an int64; it is null in this variant
    events = events_table(EVENTS)
    events = events.set_column(2, "occurred_at", events.column("occurred_at").cast(pa.timestamp("ns", tz="UTC")))
    found = evaluate_segments(parsed(), [pa.RecordBatch.from_pydict(columns)], as_of=AS_OF, catalog=CATALOG,
                              events=events)
    assert members(found) == expected


def test_dictionary_encoded_strings_are_decided_per_distinct_value():
    batch = contacts_batch(CONTACTS)
    index = batch.schema.get_field_index("city")
    encoded = batch.set_column(index, "city", batch.column(index).dictionary_encode())
    found = evaluate_segments(parsed(), [encoded], as_of=AS_OF, catalog=CATALOG, events=events_table(EVENTS))
    assert members(found) == EXPECTED


def test_streamed_masks_per_batch_equal_the_one_call_answer_and_empty_inputs_select_nobody():
    evaluator = compile_segments(parsed(), as_of=AS_OF, catalog=CATALOG, events=events_table(EVENTS))
    batches = [contacts_batch(CONTACTS[:1]), contacts_batch([]), contacts_batch(CONTACTS[1:])]
    streamed: dict[str, list[str]] = {sid: [] for sid in RULES}
    for batch in batches:
        ids = batch.column(0)
        for sid, mask in evaluator.masks(batch).items():
            assert len(mask) == batch.num_rows and mask.null_count == 0
            streamed[sid] += ids.filter(mask).to_pylist()
    assert {sid: sorted(ids) for sid, ids in streamed.items()} == EXPECTED
    nobody = evaluate_segments(parsed(), [], as_of=AS_OF, catalog=CATALOG)
    assert members(nobody) == {sid: [] for sid in RULES}
