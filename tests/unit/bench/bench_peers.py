"""What every peer of the benchmark must match exactly: the engine's own members."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
from audience.columnar import EVENTS_SCHEMA, contacts_schema
from audience.fields import DEFAULT_CATALOG
from audience.rules.vectorised import evaluate_segments


def engine_members(segments, dataset) -> dict[str, set[str]]:
    """The engine's members of every segment over the dataset: what every peer must match exactly."""
    events = pq.read_table(dataset.events)
    batches = pq.ParquetFile(dataset.contacts).iter_batches(batch_size=1_000)
    found = evaluate_segments(segments, batches, as_of=dataset.as_of, catalog=DEFAULT_CATALOG, events=events)
    return {sid: set(ids.to_pylist()) for sid, ids in found.items()}


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


def corner_data(tmp_path):
    """Four contacts and three events covering the empty/null/NaN and zoned-instant corners, written as Parquet."""
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
