"""Delete a segment (DELETE /segments/{id}).

Refused (409) while other segments' rules or live campaigns use it, naming each of them; with
``force`` it is deleted anyway and the same list is returned so the caller can fix those rules (a
reference to a deleted segment matches nobody). Members' contacts are kept; memberships and the
segment's history go.
"""

from __future__ import annotations

from typing import Any

from audience.errors import Conflict
from audience.segments.uses import segment_uses
from audience.storage import history_repo, memberships_repo, segments_repo


def delete_segment(tenant: str, segment_id: str, *, if_match: int | None = None, force: bool = False) -> dict[str, Any]:
    segments_repo.get(tenant, segment_id)
    uses = segment_uses(tenant, segment_id)
    blocking = uses["segments"] + [c for c in uses["campaigns"] if c["live"]]
    if blocking and not force:
        details = [
            {"path": f"/segments/{s['id']}", "message": f"rules of segment {s['name']!r}"} for s in uses["segments"]
        ]
        details += [
            {"path": f"/campaigns/{c['id']}", "message": f"live campaign {c['name']!r}"}
            for c in uses["campaigns"]
            if c["live"]
        ]
        raise Conflict("the segment is still in use; pass force=true to delete it anyway", details)
    segments_repo.delete(tenant, segment_id, expected_version=if_match)
    memberships_repo.remove_all(tenant, segment_id)
    history_repo.delete_all(tenant, segment_id)
    return {
        "id": segment_id,
        "deleted": True,
        "referenced_by": uses["segments"],
        "campaigns": uses["campaigns"],
    }
