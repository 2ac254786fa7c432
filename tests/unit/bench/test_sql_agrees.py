"""The benchmark's rule-to-SQL compiler must give exactly the engine's answers, or the DuckDB
comparison in `make bench` compares different work. Checked member by member on a small generated
dataset for every rule of the benchmark's rule set, and on the two-valued corner cases (NOT over
empty values, zoned timestamps under a non-UTC session)."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from audience.fields import DEFAULT_CATALOG
from audience.rules import parse_rule
from audience.rules.vectorised import evaluate_segments
from bench_peers import CORNER_RULES, corner_data, engine_members

from bench import datagen, ruleset, side_by_side, sql

AS_OF = datagen.AS_OF


def _relations(dataset):
    return {"contacts_relation": f"read_parquet('{dataset.contacts}')",
            "events_relation": f"read_parquet('{dataset.events}')"}


def test_duckdb_selects_exactly_the_engines_members_for_every_benchmark_rule(dataset):
    segments = ruleset.segments(50)
    expected = engine_members(segments, dataset)
    rules = dict(segments)
    con = sql.connect()
    for sid, rule in segments:
        query = sql.compile_members(rule, catalog=DEFAULT_CATALOG, as_of=AS_OF, rules=rules, **_relations(dataset))
        got = {row[0] for row in con.execute(query).fetchall()}
        assert got == expected[sid], sid
    # The rule set is a meaningful check only if its segments select something and not everyone.
    selective = [sid for sid, members in expected.items() if 0 < len(members) < dataset.rows]
    assert len(selective) == len(segments)


def test_one_query_lists_every_segments_member_ids_like_the_engine(dataset):
    segments = ruleset.segments(50)
    expected = engine_members(segments, dataset)
    query, ids = sql.compile_member_lists(segments, catalog=DEFAULT_CATALOG, as_of=AS_OF, **_relations(dataset))
    found = sql.member_lists_to_arrow(sql.connect().sql(query).to_arrow_table())
    assert list(found) == ids
    assert {sid: set(found[sid].to_pylist()) for sid in ids} == expected
    assert all(len(found[sid]) == len(expected[sid]) for sid in ids)  # no id listed twice


def test_one_query_counts_every_segment_like_the_engine(dataset):
    segments = ruleset.segments(20)
    expected = engine_members(segments, dataset)
    query, ids = sql.compile_counts(segments, catalog=DEFAULT_CATALOG, as_of=AS_OF, **_relations(dataset))
    counts = dict(zip(ids, sql.connect().execute(query).fetchone(), strict=True))
    assert counts == {sid: len(members) for sid, members in expected.items()}


@pytest.mark.parametrize("session_zone", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def test_two_valued_corner_cases_agree_whatever_the_session_time_zone(tmp_path, session_zone):
    contacts, events = corner_data(tmp_path)
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
    expected = engine_members(segments, dataset)
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
