"""Answers over the newest snapshot without saving anything: the count and a sample of contacts an
unsaved rule selects (``POST /segments/preview``), and the distinct values of a field for
``POST /segments/bulk``.

A preview counts what a new dynamic segment without a category would hold: the rule, with the
tenant's suppression applied (segments do not opt out by default), through the same engine as the
scheduled run. With no snapshot yet, one is built first (the first one reads the contacts once).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc

from audience.errors import ValidationFailed
from audience.evaluation import engine, snapshots
from audience.evaluation.placement import Slot
from audience.evaluation.run import _members
from audience.eventlog import LogEvents
from audience.fields import FieldCatalog, FieldType
from audience.rules import parse_rule, referenced_segments
from audience.settings import get_settings
from audience.storage import fields_repo, segments_repo, suppression_repo
from audience.suppression import SuppressionPolicy

PREVIEW = "__preview__"
SAMPLE_SIZE = 20


def _s3():
    settings = get_settings()
    return boto3.client("s3", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)


def newest_snapshot(tenant: str, s3, catalog: FieldCatalog) -> snapshots.Manifest:
    found = snapshots.latest_manifest(tenant, s3)
    return found or snapshots.build_snapshot(tenant, s3, catalog=catalog)


def preview(tenant: str, rules: dict[str, Any], *, sample_size: int = SAMPLE_SIZE, s3=None,
            as_of: datetime | None = None) -> dict[str, Any]:
    """``{"count", "sample", "snapshot_id", "as_of"}`` for an unsaved, already validated rule."""
    s3 = s3 or _s3()
    bucket = get_settings().data_bucket
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    catalog = fields_repo.catalog(tenant)
    rule = parse_rule(rules, catalog)
    manifest = newest_snapshot(tenant, s3, catalog)
    policy = SuppressionPolicy.from_document(suppression_repo.get(tenant).document, catalog)
    policy_document = policy.as_rule_document()
    suppression = parse_rule(policy_document, catalog) if policy_document else None
    documents = [rules] + ([policy_document] if policy_document else [])
    segments = {s.id: s for s in segments_repo.all_segments(tenant)}
    referenced = referenced_segments(rule) | (referenced_segments(suppression) if suppression else set())
    uses_events, _ = engine.events_window(documents, as_of)
    plan = engine.Plan(
        as_of=as_of, catalog=catalog, rules={PREVIEW: rule}, slots=[Slot(PREVIEW)], suppression=suppression,
        events=LogEvents(tenant, s3, bucket) if uses_events else None,
        memberships={sid: _members(tenant, sid, segments.get(sid), s3, bucket) for sid in referenced},
        columns=sorted(set().union(*(engine.contact_fields(d) for d in documents))),
    )
    count, sample = count_and_sample(plan, manifest, s3, bucket, sample_size)
    return {"count": count, "sample": sample, "snapshot_id": manifest.snapshot_id,
            "as_of": as_of.isoformat().replace("+00:00", "Z")}


def count_and_sample(plan: engine.Plan, manifest: snapshots.Manifest, s3, bucket: str,
                     sample_size: int) -> tuple[int, list[dict[str, Any]]]:
    """How many contacts the plan's one slot takes, and the first ``sample_size`` of them in full.

    The count reads only the columns the rules need; the sample's whole rows are read afterwards from
    the first batches, which hold the first matches, so a preview never reads every column of every
    contact."""
    (slot,) = plan.slots
    count = 0
    wanted: list[str] = []
    batches = snapshots.iter_batches(manifest, s3, plan.catalog, bucket=bucket, columns=plan.columns, dictionary=True)
    for batch, placed in engine.placed_batches(plan, batches):
        mask = placed[slot.id]
        count += pc.sum(mask).as_py() or 0
        if len(wanted) < sample_size:
            wanted += batch.column(0).filter(mask).slice(0, sample_size - len(wanted)).to_pylist()
    rows: dict[str, dict[str, Any]] = {}
    if wanted:
        chosen = pa.array(wanted, pa.string())
        for batch in snapshots.iter_batches(manifest, s3, plan.catalog, bucket=bucket):
            found = batch.filter(pc.fill_null(pc.is_in(batch.column(0), value_set=chosen), False))
            rows.update((row["contact_id"], _json_row(row)) for row in found.to_pylist())
            if len(rows) == len(wanted):
                break
    return count, [rows[contact_id] for contact_id in wanted if contact_id in rows]


def distinct_values(tenant: str, field: str, *, cap: int, s3=None) -> list[dict[str, Any]]:
    """``[{"value", "count"}]`` for every non-empty value of ``field`` in the newest snapshot (list
    fields: each item; strings compared ignoring case, as rules compare them), sorted by value.
    More than ``cap`` distinct values is a 422 at ``/field``."""
    s3 = s3 or _s3()
    catalog = fields_repo.catalog(tenant)
    if field not in catalog or field == "contact_id":
        raise ValidationFailed("unknown field", [{"path": "/field", "message": f"no field {field!r}"}])
    kind = catalog.type_of(field)
    manifest = newest_snapshot(tenant, s3, catalog)
    counts: dict[Any, int] = {}
    shown: dict[Any, Any] = {}
    for batch in snapshots.iter_batches(manifest, s3, catalog, columns=[field]):
        column = batch.column(1)
        if kind is FieldType.LIST:
            column = pc.list_flatten(column)
        column = column.drop_null()
        if kind in (FieldType.STRING, FieldType.LIST):
            column = column.filter(pc.not_equal(column, ""))
            keys = pc.utf8_lower(column)
        else:
            keys = column
        for key, value in zip(keys.to_pylist(), column.to_pylist(), strict=True):
            counts[key] = counts.get(key, 0) + 1
            shown.setdefault(key, value)
        if len(counts) > cap:
            raise ValidationFailed(
                f"field {field!r} has more than {cap} distinct values; narrow it with a base rule or another field",
                [{"path": "/field", "message": f"more than {cap} distinct values"}],
            )
    return [{"value": _json_value(shown[key]), "count": counts[key]} for key in sorted(counts, key=str)]


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in row.items() if value is not None and value != []}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value

