"""Activity events for suppression rules that look at events, loaded once per export.

A suppression rule such as "bounced within the last 90 days" needs each contact's events. Reading
the event log per page would read it thousands of times, so the export reads it once, keeps only
the events the rule names (and only as far back as its conditions look, when they all bound it),
sorts them by contact, and answers one contact's events by slicing. Memory grows with the matching
events, not with the segment; exports whose suppression rule has no event condition skip all this.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from audience.eventlog import EventQuery, read_events
from audience.suppression import SuppressionPolicy


class EventsByContact:
    """Events grouped by contact: ``events_for(contact_id)`` in the evaluator's record shape."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table.sort_by([("contact_id", "ascending"), ("occurred_at", "ascending")])
        self.offsets: dict[str, tuple[int, int]] = {}
        counts = pc.value_counts(self.table["contact_id"]) if self.table.num_rows else pa.array([])
        start = 0
        for entry in counts.to_pylist():
            self.offsets[entry["values"]] = (start, entry["counts"])
            start += entry["counts"]

    def events_for(self, contact_id: str) -> list[Mapping[str, Any]]:
        span = self.offsets.get(contact_id)
        if span is None:
            return []
        rows = self.table.slice(*span).to_pylist()
        for row in rows:
            row["properties"] = dict(row.get("properties") or [])
        return rows


def load_for_policy(tenant: str, policy: SuppressionPolicy, *, s3: Any, as_of: datetime) -> EventsByContact | None:
    """The events the policy's rule needs, or None when it needs none."""
    names = policy.event_names
    if policy.rule is None or not names:
        return None
    lookback = policy.event_lookback_days
    since = as_of - timedelta(days=lookback + 1) if lookback is not None else None
    return EventsByContact(read_events(tenant, s3, query=EventQuery(names=frozenset(names), since=since)))
