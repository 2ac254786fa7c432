"""Instants in UTC from what callers send.

A date-time near the ends of ``datetime``'s range can leave it once its offset is applied
(``0001-01-01T00:00:00+05:30`` is in year 0 in UTC): ``astimezone`` then raises ``OverflowError``,
which no validator takes for a bad value. Every conversion of a caller's instant goes through
``in_utc``, so such a value is a ``ValueError`` (a 422 at its path, a bad value of an import row).
"""

from __future__ import annotations

from datetime import UTC, datetime


def in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a zoneless one is read as UTC. ValueError when UTC cannot hold it."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{moment.isoformat()} is outside the years 1-9999 once in UTC") from None
