"""The benchmark's rule-to-SQL compiler must give exactly the engine's answers, or the DuckDB
comparison in `make bench` compares different work. Checked member by member on a small generated
dataset for every rule of the benchmark's rule set, and on the two-valued corner cases (NOT over
empty values, zoned timestamps under a non-UTC session)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from audience.columnar import EVENTS_SCHEMA, contacts_schema
from audience.fields import DEFAULT_CATALOG
from audience.rules import parse_rule
from audience.rules.vectorised import evaluate_segments

from bench import datagen, ruleset, side_by_side, sql

AS_OF = datagen.AS_OF


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    # Small chunks so several chunks (and row groups) are exercised; many events per contact so
    # aggregates over several events (sum, avg, count >= 2) select someone.
    return datagen.generate(6_000, tmp_path_factory.mktemp("bench-data"), events_per_contact=3.0, chunk=2_500)


def _engine(segments, dataset):
    events = pq.read_table(dataset.events)
    batches = pq.ParquetFile(dataset.contacts).iter_batches(batch_size=1_000)
    found = evaluate_segments(segments, batches, as_of=dataset.as_of, catalog=DEFAULT_CATALOG, events=events)
    return {sid: set(ids.to_pylist()) for sid, ids in found.items()}


def _relations(dataset):
    return {"contacts_relation": f"read_parquet('{dataset.contacts}')",
            "events_relation": f"read_parquet('{dataset.events}')"}


def test_duckdb_selects_exactly_the_engines_members_for_every_benchmark_rule(dataset):
    segments = ruleset.segments(50)
    expected = _engine(segments, dataset)
    rules = dict(segments)
    con = sql.connect()
    for sid, rule in segments:
        query = sql.compile_members(rule, catalog=DEFAULT_CATALOG, as_of=AS_OF, rules=rules, **_relations(dataset))
        got = {row[0] for row in con.execute(query).fetchall()}
        assert got == expected[sid], sid
    # The rule set is a meaningful check only if its segments select something and not everyone.
    selective = [sid for sid, members in expected.items() if 0 < len(members) < dataset.rows]
    assert len(selective) == len(segments)


def test_one_query_counts_every_segment_like_the_engine(dataset):
    segments = ruleset.segments(20)
    expected = _engine(segments, dataset)
    query, ids = sql.compile_counts(segments, catalog=DEFAULT_CATALOG, as_of=AS_OF, **_relations(dataset))
    counts = dict(zip(ids, sql.connect().execute(query).fetchone(), strict=True))
    assert counts == {sid: len(members) for sid, members in expected.items()}


CORNER_RULES = {
    "neq_passes_empty": {"field": "city", "op": "neq", "value": "Paris"},
    "not_of_eq": {"not": {"field": "city", "op": "eq", "value": "paris"}},
    "not_in_passes_empty": {"field": "score", "op": "not_in", "value": [1, 2]},
    "has_none_passes_null_and_empty_list": {"field": "tags", "op": "has_none", "value": ["vip"]},
    "not_contains": {"field": "email", "op": "not_contains", "value": "example"},
    "not_of_before": {"not": {"field": "created_at", "op": "before", "value": "2025-01-01T00:30:00+01:00"}},
    "on_is_a_utc_day": {"field": "created_at", "op": "on", "value": "2025-01-01"},
    "after_zoned": {"field": "created_at", "op": "after", "value": "2024-12-31T23:30:00-01:00"},
    "date_field_window": {"field": "expected_purchase_date", "op": "within_last_days", "value": 1},
    "is_false_not_null": {"field": "subscribed", "op": "is_false"},
    "not_is_true": {"not": {"field": "subscribed", "op": "is_true"}},
    "nan_is_empty": {"field": "score", "op": "is_empty"},
    "not_gt_nan": {"not": {"field": "score", "op": "gt", "value": 0}},
    "never_clicked_counts_zero": {"event": "click", "aggregate": {"fn": "count", "op": "lt", "value": 1}},
    "no_sum_is_zero": {"event": "purchase", "aggregate": {"fn": "sum", "field": "amount", "op": "eq", "value": 0}},
    "no_last_at_is_empty": {"event": "click", "aggregate": {"fn": "last_at", "op": "is_empty"}},
    "future_events_ignored": {"event": "click", "within_last_days": 1},
}


def _corner_data(tmp_path):
    def ts(text):
        return datetime.fromisoformat(text).astimezone(UTC)

    rows = [
        {"contact_id": "a", "city": "Paris", "score": 1.0, "tags": ["VIP"], "email": "a@example.com",
         "created_at": ts("2024-12-31T23:30:00+00:00"), "subscribed": True,
         "expected_purchase_date": datetime(2025, 5, 31).date()},
        {"contact_id": "b", "city": "", "score": float("nan"), "tags": [], "email": "",
         "created_at": ts("2025-01-01T00:00:00+00:00"), "subscribed": False},
        {"contact_id": "c", "city": None, "score": None, "tags": None, "email": None, "created_at": None,
         "subscribed": None},
        {"contact_id": "d", "city": "Lyon", "score": 3.0, "tags": ["news"], "email": "d@acme.io",
         "created_at": ts("2025-01-01T23:59:59+00:00"), "subscribed": True,
         "expected_purchase_date": datetime(2025, 6, 2).date()},
    ]
    schema = contacts_schema(DEFAULT_CATALOG)
    contacts = pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)
    events = pa.Table.from_pylist([
        {"contact_id": "a", "event": "click", "occurred_at": ts("2025-06-01T11:00:00+00:00"), "properties": []},
        {"contact_id": "d", "event": "click", "occurred_at": ts("2025-06-01T12:00:01+00:00"), "properties": []},
        {"contact_id": "d", "event": "purchase", "occurred_at": ts("2025-05-01T00:00:00+00:00"),
         "properties": [("amount", "n/a")]},
    ], schema=EVENTS_SCHEMA)
    pq.write_table(contacts, tmp_path / "contacts.parquet")
    pq.write_table(events, tmp_path / "events.parquet")
    return contacts, events


@pytest.mark.parametrize("session_zone", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def test_two_valued_corner_cases_agree_whatever_the_session_time_zone(tmp_path, session_zone):
    contacts, events = _corner_data(tmp_path)
    segments = [(name, parse_rule(rule, DEFAULT_CATALOG)) for name, rule in CORNER_RULES.items()]
    found = evaluate_segments(segments, contacts.to_batches(), as_of=AS_OF, catalog=DEFAULT_CATALOG, events=events)
    con = sql.connect()
    con.execute(f"SET TimeZone = '{session_zone}'")
    relations = {"contacts_relation": f"read_parquet('{tmp_path / 'contacts.parquet'}')",
                 "events_relation": f"read_parquet('{tmp_path / 'events.parquet'}')"}
    for name, rule in segments:
        query = sql.compile_members(rule, catalog=DEFAULT_CATALOG, as_of=AS_OF, **relations)
        got = sorted(row[0] for row in con.execute(query).fetchall())
        assert got == sorted(found[name].to_pylist()), name
    # Spot-check the semantics themselves, not only the agreement.
    assert sorted(found["neq_passes_empty"].to_pylist()) == ["b", "c", "d"]
    assert sorted(found["on_is_a_utc_day"].to_pylist()) == ["b", "d"]
    assert sorted(found["future_events_ignored"].to_pylist()) == ["a"]
    assert sorted(found["no_sum_is_zero"].to_pylist()) == ["a", "b", "c", "d"]


def test_engine_gives_the_same_members_from_dictionary_encoded_and_unordered_batches(dataset):
    """The benchmark reads low-cardinality strings dictionary-encoded, and snapshots need not be
    ordered by contact id: neither may change a single member."""
    segments = ruleset.segments(50)
    expected = _engine(segments, dataset)
    columns = ruleset.needed_fields(50)
    encoded = side_by_side.dictionary_columns(str(dataset.contacts), columns, share=0.5)
    assert {"country", "status", "city"} <= set(encoded)
    events = pq.read_table(dataset.events)
    batches = pq.ParquetFile(dataset.contacts, read_dictionary=encoded).iter_batches(batch_size=1_000,
                                                                                      columns=columns)
    found = evaluate_segments(segments, batches, as_of=AS_OF, catalog=DEFAULT_CATALOG, events=events)
    assert {sid: set(ids.to_pylist()) for sid, ids in found.items()} == expected
    contacts = pq.read_table(dataset.contacts)
    order = list(range(contacts.num_rows))
    random.Random(3).shuffle(order)
    shuffled = contacts.take(pa.array(order))
    found = evaluate_segments(segments, shuffled.to_batches(max_chunksize=777), as_of=AS_OF,
                              catalog=DEFAULT_CATALOG, events=events)
    assert {sid: set(ids.to_pylist()) for sid, ids in found.items()} == expected
