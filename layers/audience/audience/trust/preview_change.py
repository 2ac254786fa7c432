"""``POST /segments/{id}/preview-change``: what saving new rules would do to a segment, nothing saved.

The new rules go through the scheduled run's own plan (``run.build_plan`` with the rules replaced) and
pass over the newest snapshot, so categories, suppression and references place contacts exactly as a
run would; only the segments placement needs are evaluated (the segment, the rest of its category,
and what they reference). The result is compared with the segment's current members as the run keeps
them (``state``: last run's Parquet state, or the membership table when there is none) by the run's
own sorted diff. Memberships the stream changed since the last run are not in that state; a run
re-asserts those, so they can differ from the answer here by those contacts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pyarrow as pa

from audience.errors import Conflict, ValidationFailed
from audience.evaluation import changes, engine, shards, snapshots, state
from audience.evaluation.preview import newest_snapshot
from audience.evaluation.run import _with_references, build_plan
from audience.segments.definition import check_definition
from audience.settings import get_settings
from audience.storage import fields_repo, segments_repo

SAMPLE_SIZE = 10


def preview_change(tenant: str, segment_id: str, rules: dict[str, Any], *, s3=None,
                   as_of: datetime | None = None) -> dict[str, Any]:
    """``{"count_now", "count_after", "entering", "leaving", "sample_entering", "sample_leaving",
    "snapshot_id", "as_of"}``; 422 for rules PUT would refuse, 409 for a static segment."""
    segment = segments_repo.get(tenant, segment_id)
    if segment.type != "dynamic":
        raise Conflict("a static segment has no rules: its members are added, not selected")
    segments = {s.id: s for s in segments_repo.all_segments(tenant)}
    check_definition(tenant, segment_type="dynamic", rules=rules, category=segment.category,
                     segment_id=segment_id, segments=segments)
    settings = get_settings()
    s3 = s3 or boto3.client("s3", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    bucket = settings.data_bucket
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    catalog = fields_repo.catalog(tenant)
    manifest = newest_snapshot(tenant, s3, catalog)
    plan, failed = build_plan(tenant, catalog, as_of, manifest, s3, bucket, [segment_id],
                              replaced_rules={segment_id: rules})
    if segment_id in failed:
        raise ValidationFailed("the rules cannot be evaluated", [{"path": "/rules", "message": failed[segment_id]}])
    kept = [slot for slot in plan.slots if slot.id == segment_id
            or (segment.category and slot.category == segment.category)]
    plan.slots = [slot for slot in kept if slot.id not in failed]
    plan.rules = {sid: plan.rules[sid] for sid in _with_references([s.id for s in plan.slots], plan.rules)}
    current = state.previous_members(tenant, segment_id, s3, bucket)
    return {**compare(plan, manifest, segment_id, current, s3=s3, bucket=bucket),
            "snapshot_id": manifest.snapshot_id, "as_of": as_of.isoformat().replace("+00:00", "Z")}


def compare(plan: engine.Plan, manifest: snapshots.Manifest, segment_id: str, current: pa.Array, *, s3,
            bucket: str) -> dict[str, Any]:
    """The pass with the new rules, diffed against ``current`` members (the run's sorted diff)."""
    after = changes.in_order(shards.evaluate_sharded(plan, manifest, s3, 1, bucket=bucket)[segment_id])
    now = changes.in_order(current)
    entering, leaving = changes.diff(now, after)
    return {
        "count_now": len(now),
        "count_after": len(after),
        "entering": len(entering),
        "leaving": len(leaving),
        "sample_entering": _first(entering),
        "sample_leaving": _first(leaving),
    }


def _first(ids: pa.Array) -> list[str]:
    return ids.slice(0, SAMPLE_SIZE).to_pylist()

