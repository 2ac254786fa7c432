"""``POST /segments/bulk``: one dynamic segment per distinct value of a field (read from the newest
snapshot), each ``{"all": [base rule, field = value]}``, named ``{name_prefix}{value}``.

Everything is validated before the first segment is written (field, base rule with JSON paths,
category, the cap on distinct values), so a bad request creates nothing. ``dry_run`` only counts.
"""

from __future__ import annotations

from typing import Any

from audience.errors import ValidationFailed
from audience.evaluation.preview import distinct_values
from audience.fields import FieldType
from audience.segments.create import create_segment
from audience.segments.definition import check_definition
from audience.segments.inputs import SegmentDraft
from audience.storage import fields_repo

MAX_SEGMENTS = 200  # distinct values above this are almost surely a mistake (ids, emails, free text)
NAME_LIMIT = 200


def value_condition(field: str, kind: FieldType, value: Any) -> dict[str, Any]:
    """The rule selecting contacts whose ``field`` holds ``value``."""
    if kind is FieldType.LIST:
        return {"field": field, "op": "has_any", "value": [value]}
    if kind is FieldType.BOOLEAN:
        return {"field": field, "op": "is_true" if value else "is_false"}
    if kind in (FieldType.DATE, FieldType.DATETIME):
        return {"field": field, "op": "on", "value": str(value)[:10]} if kind is FieldType.DATE else {
            "field": field, "op": "between", "value": [value, value]}
    return {"field": field, "op": "eq", "value": value}


def bulk_segments(
    tenant: str,
    *,
    field: str,
    name_prefix: str,
    rules: dict[str, Any] | None = None,
    category: str | None = None,
    dry_run: bool = False,
    cap: int | None = None,
) -> dict[str, Any]:
    """``{"count", "values": [{"value", "count", "name"}]}`` and, unless ``dry_run``, ``"segments"``."""
    check_definition(tenant, segment_type="dynamic", rules=rules, category=category, check_rules=rules is not None)
    catalog = fields_repo.catalog(tenant)
    values = distinct_values(tenant, field, cap=cap or MAX_SEGMENTS)
    kind = catalog.type_of(field)
    planned = []
    for entry in values:
        name = f"{name_prefix}{entry['value']}"[:NAME_LIMIT].strip() or str(entry["value"])
        condition = value_condition(field, kind, entry["value"])
        planned.append((name, {"all": [rules, condition]} if rules else condition, entry))
    answer: dict[str, Any] = {
        "count": len(planned),
        "values": [{"value": e["value"], "contacts": e["count"], "name": name} for name, _, e in planned],
    }
    if dry_run:
        return answer
    if not planned:
        raise ValidationFailed("no values to create segments for",
                               [{"path": "/field", "message": f"field {field!r} is empty on every contact"}])
    created = []
    for name, rule, _ in planned:
        draft = SegmentDraft(name=name, type="dynamic", rules=rule, category=category)
        created.append(create_segment(tenant, draft))
    answer["segments"] = created
    return answer
