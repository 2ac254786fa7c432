"""The segment as callers see it (SPEC §3 segment shape plus a few read-only extras)."""

from __future__ import annotations

from typing import Any

from audience.storage.records import Segment

PUBLIC_FIELDS = (
    "id",
    "name",
    "description",
    "type",
    "rules",
    "category",
    "priority",
    "public",
    "topics",
    "ignore_suppression",
    "version",
    "member_count",
    "last_evaluated_at",
    "evaluation_status",
    "evaluation_error",
    "last_run",
    "created_at",
    "updated_at",
)


def present(segment: Segment) -> dict[str, Any]:
    return segment.model_dump(include=set(PUBLIC_FIELDS))
