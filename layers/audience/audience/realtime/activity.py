"""A tenant's recent activity for per-contact checks, read once and shared by a whole batch.

Only tenants whose rules have activity conditions pay for it, and only for the window those rules
look at (``TenantRules.events_since``): the event log is laid out by day, so older days are never
listed or fetched. pyarrow is imported here on first use, never at import time (the api imports
this module's callers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any


class ActivityWindow:
    """The events of one tenant since ``since`` (None: all), read once; per contact on demand.

    ``prefetch`` picks a whole batch's contacts out of the window in one vectorised filter, so a
    batch of a hundred contacts costs one read and one pass, not a hundred.
    """

    def __init__(self, tenant: str, since: datetime | None, s3_client: Callable[[], Any]):
        self.tenant = tenant
        self.since = since
        self._s3_client = s3_client
        self._table: Any = None
        self._by_contact: dict[str, list[dict[str, Any]]] = {}

    def prefetch(self, contact_ids: Iterable[str]) -> None:
        wanted = [c for c in dict.fromkeys(contact_ids) if c not in self._by_contact]
        if not wanted:
            return
        import pyarrow as pa
        import pyarrow.compute as pc

        table = self._window()
        picked = table.filter(pc.is_in(table["contact_id"], value_set=pa.array(wanted, pa.string())))
        grouped = group_by_contact(picked.to_pylist())
        for contact_id in wanted:
            self._by_contact[contact_id] = grouped.get(contact_id, [])

    def events_of(self, contact_id: str) -> list[dict[str, Any]]:
        if contact_id not in self._by_contact:
            self.prefetch([contact_id])
        return self._by_contact[contact_id]

    def _window(self) -> Any:
        if self._table is None:
            from audience.eventlog import read_events

            self._table = read_events(self.tenant, self._s3_client(), since=self.since)
        return self._table


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
