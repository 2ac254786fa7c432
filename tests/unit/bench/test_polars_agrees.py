"""The benchmark's rule-to-Polars compiler must give exactly the engine's answers, or the Polars
comparison in `make bench` compares different work. Checked member by member on the small generated
dataset for every rule of the benchmark's rule set, and on the two-valued corner cases the SQL
compiler is held to (NOT over empty values, NaN, null and empty lists, zoned instants, activity
aggregates of contacts without events)."""

from __future__ import annotations

import polars as pl
import pytest
from audience.fields import DEFAULT_CATALOG
from audience.rules import parse_rule
from audience.rules.vectorised import evaluate_segments
from bench_peers import CORNER_RULES, corner_data, engine_members

from bench import datagen, polars_rules, ruleset

AS_OF = datagen.AS_OF


def _polars(segments, contacts_path, events_path, *, streaming=True):
    found = polars_rules.members(segments, pl.scan_parquet(contacts_path), pl.scan_parquet(events_path),
                                 catalog=DEFAULT_CATALOG, as_of=AS_OF, streaming=streaming)
    return {sid: ids.to_pylist() for sid, ids in found.items()}


@pytest.mark.parametrize("streaming", [True, False])
def test_polars_selects_exactly_the_engines_members_for_every_benchmark_rule(dataset, streaming):
    segments = ruleset.segments(50)
    expected = engine_members(segments, dataset)
    found = _polars(segments, dataset.contacts, dataset.events, streaming=streaming)
    assert {sid: set(ids) for sid, ids in found.items()} == expected
    assert all(len(ids) == len(expected[sid]) for sid, ids in found.items())  # no id listed twice


def test_two_valued_corner_cases_agree_with_polars(tmp_path):
    contacts, events = corner_data(tmp_path)
    segments = [(name, parse_rule(rule, DEFAULT_CATALOG)) for name, rule in CORNER_RULES.items()]
    expected = evaluate_segments(segments, contacts.to_batches(), as_of=AS_OF, catalog=DEFAULT_CATALOG,
                                 events=events)
    found = _polars(segments, tmp_path / "contacts.parquet", tmp_path / "events.parquet")
    for name, _ in segments:
        assert sorted(found[name]) == sorted(expected[name].to_pylist()), name
    assert sorted(found["neq_passes_empty"]) == ["b", "c", "d"]
    assert sorted(found["not_gt_nan"]) == ["b", "c"]
