"""The benchmark's event log (`bench.evaluation.LocalEventLog`) reads the events as the service's
`eventlog.reading.sorted_streams` does — property keys and values dictionary-encoded where the object
stores them so — and the run's activity answers over it are exactly those over the events in memory."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from audience.evaluation.engine import uses_events
from audience.eventlog.reading import dictionary_columns
from audience.fields import DEFAULT_CATALOG
from audience.rules.vectorised import EventsWanted, evaluate_segments

from bench import evaluation, ruleset

EVENT_RULES = [(sid, rule) for (sid, rule), (_, raw) in zip(ruleset.segments(50), ruleset.raw_segments(50), strict=True)
               if uses_events(raw)]  # the segments with activity conditions: windows, where, sum, avg, counts


@pytest.fixture()
def small_groups(dataset, tmp_path, monkeypatch):
    """The dataset's events in row groups of 700 rows, read 1,000 rows at a time: without reading one
    row group at a time, a batch would span two groups' property dictionaries (Arrow refuses it)."""
    path = tmp_path / "events.parquet"
    pq.write_table(pq.read_table(dataset.events), path, row_group_size=700)
    monkeypatch.setattr(evaluation, "EVENT_ROW_GROUP", 1_000)
    return path


def _wanted(as_of) -> EventsWanted:
    return EventsWanted(names=frozenset(), properties=True, since=None, until=as_of)


def test_properties_are_read_dictionary_encoded_as_the_service_reads_them(dataset, small_groups):
    stored = dictionary_columns(pq.read_metadata(small_groups), ["contact_id", "properties"])
    assert "properties.key_value.key" in stored and "properties.key_value.value" in stored
    batches = evaluation.LocalEventLog([small_groups]).fold(_wanted(dataset.as_of), lambda s: [b for b in s[0]])
    properties = batches[0].schema.field("properties").type
    assert pa.types.is_dictionary(properties.key_type) and pa.types.is_dictionary(properties.item_type)
    assert pa.types.is_dictionary(batches[0].schema.field("event").type)
    assert max(batch.num_rows for batch in batches) <= 700  # one row group per batch at most
    read = pa.Table.from_batches(batches)
    expected = pq.read_table(small_groups)
    assert read.num_rows == expected.num_rows
    assert read.column("contact_id").to_pylist() == expected.column("contact_id").to_pylist()
    assert read.column("event").cast(pa.string()).equals(expected.column("event"))
    assert [dict(m) if m is not None else None for m in read.column("properties").to_pylist()] == \
        [dict(m) if m is not None else None for m in expected.column("properties").to_pylist()]


@pytest.mark.parametrize("threads", [1, 2])
def test_activity_answers_over_the_local_log_equal_those_over_the_events_in_memory(dataset, small_groups,
                                                                                      threads):
    assert len(EVENT_RULES) >= 5
    ids = pq.read_table(dataset.contacts, columns=["contact_id"]).column("contact_id").combine_chunks()
    contacts = pa.RecordBatch.from_arrays([ids], names=["contact_id"])

    def members(events):
        found = evaluate_segments(EVENT_RULES, [contacts.slice(i, 1_500) for i in range(0, len(ids), 1_500)],
                                  as_of=dataset.as_of, catalog=DEFAULT_CATALOG, events=events, threads=threads)
        return {sid: found[sid].to_pylist() for sid, _ in EVENT_RULES}

    expected = members(pq.read_table(dataset.events))
    assert any(expected.values()) and not all(len(m) == len(ids) for m in expected.values())
    found = members(evaluation.LocalEventLog([small_groups]))
    assert found == expected
