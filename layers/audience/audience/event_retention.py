"""A rule may not look further back than the tenant's event log keeps events.

Retention (``GET/PUT /settings/events``) drops whole months of the log; an activity condition whose
``within_last_days`` reaches past ``retention_days`` would silently count fewer events than it says,
so it is refused where the rule is saved, with the condition's JSON path. (A condition without a
window counts every retained event.) Pure Python: the API imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audience.storage import eventlog_repo


def window_problems(document: Any, pointer: str, retention_days: int) -> list[dict[str, str]]:
    """``{"path", "message"}`` for every event condition of the rule document looking back further
    than ``retention_days``."""
    found: list[dict[str, str]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            days = node.get("within_last_days")
            if isinstance(node.get("event"), str) and isinstance(days, int) and not isinstance(days, bool) \
                    and days > retention_days:
                found.append({"path": f"{path}/within_last_days",
                              "message": f"looks back {days} days but events are kept {retention_days} days "
                                         "(PUT /settings/events to keep them longer)"})
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for position, value in enumerate(node):
                walk(value, f"{path}/{position}")

    walk(document, pointer)
    return found


def uses_windows(document: Any) -> bool:
    if isinstance(document, Mapping):
        return "within_last_days" in document or any(uses_windows(v) for v in document.values())
    if isinstance(document, list):
        return any(uses_windows(v) for v in document)
    return False


def check_windows(tenant: str, document: Any, pointer: str) -> list[dict[str, str]]:
    """`window_problems` against the tenant's retention (read only when the rule has a window)."""
    if not uses_windows(document):
        return []
    return window_problems(document, pointer, eventlog_repo.retention_days(tenant))
