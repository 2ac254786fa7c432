"""A tenant's recent activity for per-contact checks, read for a whole batch of contacts at once.

Only tenants whose rules have activity conditions pay for it, and only for the window those rules
look at (``TenantRules.events_since``): a scan of the event log with the batch's contacts and the
window pushed down (months before it are never opened, row groups outside the contacts' id range
are skipped), so memory holds the batch's events, never the tenant's history. pyarrow is imported
here on first use, never at import time (the api imports this module's callers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any


class ActivityWindow:
    """The events of one tenant since ``since`` (None: all); per contact on demand.

    ``prefetch`` reads a whole batch's contacts in one scan, so a batch of a hundred contacts costs
    one read, not a hundred.
    """

    def __init__(self, tenant: str, since: datetime | None, s3_client: Callable[[], Any]):
        self.tenant = tenant
        self.since = since
        self._s3_client = s3_client
        self._by_contact: dict[str, list[dict[str, Any]]] = {}

    def prefetch(self, contact_ids: Iterable[str]) -> None:
        wanted = [c for c in dict.fromkeys(contact_ids) if c not in self._by_contact]
        if not wanted:
            return
        import pyarrow as pa

        from audience.eventlog import EventQuery, read_events

        query = EventQuery(since=self.since, contacts=pa.array(wanted, pa.string()))
        grouped = group_by_contact(read_events(self.tenant, self._s3_client(), query=query).to_pylist())
        for contact_id in wanted:
            self._by_contact[contact_id] = grouped.get(contact_id, [])

    def events_of(self, contact_id: str) -> list[dict[str, Any]]:
        if contact_id not in self._by_contact:
            self.prefetch([contact_id])
        return self._by_contact[contact_id]


def group_by_contact(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Event-log rows (properties as a map's key/value pairs) -> per contact, the evaluator's form."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        properties = row.get("properties") or {}
        if not isinstance(properties, dict):
            properties = dict(properties)
        grouped.setdefault(row["contact_id"], []).append(
            {"event": row["event"], "occurred_at": row["occurred_at"], "properties": properties}
        )
    return grouped
