"""``GET /contacts/{id}/history`` and ``GET /segments/{id}/history``: membership changes, newest first.

The entries are written by whatever changed a membership (``storage.membership_history_repo``); here
the contact or segment is checked to be the caller's (404 otherwise) and ``since`` is read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from audience.errors import ValidationFailed
from audience.instants import in_utc
from audience.storage import contacts_repo, membership_history_repo, segments_repo
from audience.storage.records import Page


def contact_history(tenant: str, contact_id: str, *, limit: int = 50, start_key: dict[str, Any] | None = None) -> Page:
    contacts_repo.get(tenant, contact_id)
    return membership_history_repo.for_contact(tenant, contact_id, limit=limit, start_key=start_key)


def segment_history(tenant: str, segment_id: str, *, since: str | None = None, limit: int = 50,
                    start_key: dict[str, Any] | None = None) -> Page:
    segments_repo.get(tenant, segment_id)
    moment = parse_since(since, "?since") if since is not None else None
    return membership_history_repo.for_segment(tenant, segment_id, since=moment, limit=limit, start_key=start_key)


def parse_since(text: str, path: str) -> datetime:
    """An ISO 8601 instant (a date is its midnight UTC; no offset means UTC)."""
    try:
        return in_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("invalid instant", [{"path": path, "message": "an ISO 8601 time like "
                                                                             "2024-05-31T00:00:00Z"}]) from exc
