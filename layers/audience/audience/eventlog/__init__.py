"""The tenant's activity event log (docs/events.md): appended per batch, compacted into few large
parts sorted by contact and partitioned by month, retained for ``retention_days``, read as streams
of record batches with push-down (``scan``)."""

from audience.eventlog.append import append_events, events_table
from audience.eventlog.compaction import DEFAULT_RETENTION_DAYS, compact
from audience.eventlog.layout import eventlog_prefix
from audience.eventlog.reading import EventQuery, LogChanged, read_events, scan
from audience.eventlog.source import LogEvents

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "EventQuery",
    "LogChanged",
    "LogEvents",
    "append_events",
    "compact",
    "eventlog_prefix",
    "events_table",
    "read_events",
    "scan",
]
