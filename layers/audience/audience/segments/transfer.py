"""Move contacts from one segment to a static one (POST /segments/{id}/transfer).

The contacts that are members of the source join the target under category rules (leaving the
other segments of its category, which includes the source when both share it) and leave a static
source. Ids that are not members (any more) are not an error: they are left alone and listed in the
answer (``not_members``), so a retried transfer answers what is left to do, as removing members
does. A dynamic source keeps them only while its rules still select them and no category rule takes
them away.
"""

from __future__ import annotations

from typing import Any

from audience.errors import Conflict, ValidationFailed
from audience.segments.placement import place, remove
from audience.storage import memberships_repo, segments_repo


def transfer(tenant: str, segment_id: str, contact_ids: list[str], to: str) -> dict[str, Any]:
    source = segments_repo.get(tenant, segment_id)
    if to == segment_id:
        raise ValidationFailed("cannot transfer", [{"path": "/to", "message": "the target is the source"}])
    target = segments_repo.find(tenant, to)
    if target is None:
        raise ValidationFailed("cannot transfer", [{"path": "/to", "message": f"no segment {to!r}"}])
    if target.type != "static":
        raise Conflict("contacts can only be transferred into a static segment; the target is dynamic")
    requested = list(dict.fromkeys(contact_ids))
    present = memberships_repo.existing(tenant, segment_id, requested)
    ids = [cid for cid in requested if cid in present]
    added = place(tenant, target, ids, source="transfer")["added"] if ids else 0
    if ids and source.type == "static":
        remove(tenant, source, ids, source="transfer")
    still_in_source = memberships_repo.existing(tenant, segment_id, ids) if ids else set()
    return {
        "transferred": len(ids),
        "added_to_target": added,
        "removed_from_source": len(ids) - len(still_in_source),
        "not_members": [cid for cid in requested if cid not in present],
        "from": segment_id,
        "to": to,
    }
