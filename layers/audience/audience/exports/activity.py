"""Activity events for suppression rules that look at events, loaded once per export.

A suppression rule such as "bounced within the last 90 days" needs each contact's events. The export
reads the event log once, keeps only the events the rule names (and only as far back as its
conditions look, when they all bound it), and hands the table to the vectorised evaluator, which
aggregates it per contact once. Memory grows with the matching events, not with the segment; exports
whose suppression rule has no event condition skip all this.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from audience.eventlog import EventQuery, read_events
from audience.suppression import SuppressionPolicy


def events_for_policy(tenant: str, policy: SuppressionPolicy, *, s3: Any, as_of: datetime) -> pa.Table | None:
    """The events the policy's rule needs (EVENTS_SCHEMA), or None when it needs none."""
    names = policy.event_names
    if policy.rule is None or not names:
        return None
    lookback = policy.event_lookback_days
    since = as_of - timedelta(days=lookback + 1) if lookback is not None else None
    return read_events(tenant, s3, query=EventQuery(names=frozenset(names), since=since))
