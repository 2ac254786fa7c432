"""Replace (PUT) or partly change (PATCH) a segment, conditional on its version.

``if_match`` None writes conditionally on the version just read and retries on a race, so an
unconditional write is applied whole, never half on top of another one. A segment's type never changes: a list
becomes rules through clone or the other way through save-as-list. Moving a static segment into a
category applies the category rule to its members. Making a segment private while
a live campaign targets it is refused.
"""

from __future__ import annotations

from typing import Any

from audience.errors import Conflict, PreconditionFailed, ValidationFailed
from audience.segments.definition import check_definition
from audience.segments.inputs import SegmentPatch, SegmentReplacement
from audience.segments.placement import place
from audience.storage import campaigns_repo, memberships_repo, segments_repo
from audience.storage.base import now_iso
from audience.storage.records import Segment

UNCONDITIONAL_ATTEMPTS = 3


def replace_segment(tenant: str, segment_id: str, draft: SegmentReplacement, *, if_match: int | None = None) -> Segment:
    """Every field of the definition replaced (defaults for those left out), except ``type``, which
    is only checked when given; the rules are checked against the segment's own type."""
    changes = draft.model_dump()
    if "type" not in draft.model_fields_set:
        del changes["type"]
    return _write(tenant, segment_id, changes, if_match)


def patch_segment(tenant: str, segment_id: str, patch: SegmentPatch, *, if_match: int | None = None) -> Segment:
    changes = {name: getattr(patch, name) for name in patch.model_fields_set}
    if changes.get("topics") is None and "topics" in changes:
        changes["topics"] = []
    return _write(tenant, segment_id, changes, if_match)


def _write(tenant: str, segment_id: str, changes: dict[str, Any], if_match: int | None) -> Segment:
    """Without If-Match the caller asked for "last write wins": re-read and retry on a race."""
    for attempt in range(UNCONDITIONAL_ATTEMPTS):
        try:
            return _apply(tenant, segment_id, dict(changes), if_match)
        except PreconditionFailed:
            if if_match is not None or attempt == UNCONDITIONAL_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _apply(tenant: str, segment_id: str, changes: dict[str, Any], if_match: int | None) -> Segment:
    current = segments_repo.get(tenant, segment_id)
    if if_match is not None and if_match != current.version:
        raise PreconditionFailed(
            f"segment {segment_id!r} is at version {current.version}, not {if_match}",
            [{"path": "If-Match", "message": f"current version is {current.version}"}],
        )
    if "type" in changes and changes["type"] != current.type:
        raise ValidationFailed(
            "a segment's type cannot change",
            [{"path": "/type", "message": f"this segment is {current.type}; use clone or save-as-list"}],
        )
    changes.pop("type", None)
    # Only what changes is checked: renaming a segment whose rules name a force-deleted segment
    # must still work (its rules are reported by the delete and fixed by a rules change).
    references = check_definition(
        tenant,
        segment_type=current.type,
        rules=changes.get("rules"),
        category=changes.get("category"),
        segment_id=segment_id,
        check_rules="rules" in changes,
    )
    if "rules" in changes:
        changes["references"] = references
    if changes.get("public") is False and current.public:
        live = [c.id for c in campaigns_repo.using_segment(tenant, segment_id) if c.is_live(now_iso())]
        if live:
            raise Conflict(
                "live campaigns target this segment; it must stay public",
                [{"path": "/public", "message": f"used by campaign {c}"} for c in live],
            )
    updated = segments_repo.update(tenant, segment_id, changes, expected_version=if_match or current.version)
    if updated.category != current.category:
        _follow_category(tenant, updated)
    return segments_repo.get(tenant, segment_id) if updated.category != current.category else updated


def _follow_category(tenant: str, segment: Segment) -> None:
    """Members carry their segment's category: rewrite it, and for a static segment take its members
    out of the other segments of the new category (a dynamic one is re-sorted at its next evaluation)."""
    memberships_repo.set_category(tenant, segment.id, segment.category)
    if segment.type == "static" and segment.category:
        members = list(memberships_repo.iter_members(tenant, segment.id))
        if members:
            place(tenant, segment, members)
