"""Checks a segment definition against the tenant's data before anything is written: the rule
(through the rule engine, with every error's JSON path), the category, the referenced segments and
reference cycles. All problems are reported at once as one ValidationFailed (HTTP 422).

References and cycles are checked here rather than through the engine's resolver because each
reference needs its own JSON pointer, and the graph comes from the ``references`` stored on every
segment (one Query) instead of re-parsing every segment's rules."""

from __future__ import annotations

from typing import Any

from audience.errors import ValidationFailed
from audience.event_retention import check_windows
from audience.rules import RuleValidationError, parse_rule
from audience.segments.references import find_cycle, segment_references
from audience.storage import categories_repo, fields_repo, segments_repo
from audience.storage.records import Segment


def check_definition(
    tenant: str,
    *,
    segment_type: str,
    rules: dict[str, Any] | None,
    category: str | None,
    segment_id: str | None = None,
    segments: dict[str, Segment] | None = None,
    check_rules: bool = True,
) -> list[str]:
    """Validate; return the segment ids the rules reference. ``segment_id`` is None for a new one.

    ``check_rules`` False (a change that leaves the rules alone) checks only the category.
    """
    details: list[dict[str, str]] = []
    if check_rules and segment_type == "dynamic" and rules is None:
        details.append({"path": "/rules", "message": "a dynamic segment needs rules"})
    if check_rules and segment_type == "static" and rules is not None:
        details.append({"path": "/rules", "message": "a static segment has no rules; its members are added"})
    if category is not None and categories_repo.find(tenant, category) is None:
        details.append({"path": "/category", "message": f"no category {category!r}; create it first"})
    references: list[str] = []
    if check_rules and rules is not None and segment_type == "dynamic":
        if segments is None:
            segments = {s.id: s for s in segments_repo.all_segments(tenant)}
        try:
            parse_rule(rules, fields_repo.catalog(tenant), pointer="/rules", segment_exists=lambda _sid: True)
        except RuleValidationError as exc:
            details += [{"path": e["path"], "message": e["message"]} for e in exc.errors]
        details += check_windows(tenant, rules, "/rules")
        found = list(segment_references(rules))
        for referenced, pointer in found:
            if referenced not in segments:
                details.append({"path": pointer, "message": f"no segment {referenced!r}"})
        references = list(dict.fromkeys(referenced for referenced, _ in found))
        if segment_id is not None and not details:
            graph = {s.id: list(s.references) for s in segments.values()}
            graph[segment_id] = references
            cycle = find_cycle(graph, segment_id)
            if cycle:
                pointer = next(p for r, p in found if r == cycle[1])
                details.append({"path": pointer, "message": "reference cycle: " + " -> ".join(cycle)})
    if details:
        raise ValidationFailed("the segment definition is invalid", details)
    return references
