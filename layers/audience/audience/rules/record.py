"""The per-record evaluator: one contact (and its events) at a time.

It is the reference semantics of SPEC §2, used for real-time checks and to cross-check the
vectorised evaluator (both must agree exactly; a property test compares them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from audience.fields import FieldCatalog, FieldType
from audience.instants import in_utc
from audience.rules.model import (
    AllOf,
    AnyOf,
    EventCondition,
    FieldCondition,
    Not,
    PropertyCondition,
    Rule,
    Sample,
    SegmentRef,
    is_number,
    parse_instant,
    rule_to_json,
)
from audience.rules.operators import NEGATIONS, NUMBER_PATTERN
from audience.rules.sample import bucket, in_sample
from audience.rules.text import fold

_NUMBER = re.compile(NUMBER_PATTERN)
# Property tests never look at the clock; this stands in where `test` takes one.
_NO_CLOCK = datetime(1970, 1, 1, tzinfo=UTC)


def trace_record(
    rule: Rule,
    contact: Mapping[str, Any],
    *,
    as_of: datetime,
    catalog: FieldCatalog,
    events: Sequence[Mapping[str, Any]] = (),
    member_of: Callable[[str], bool] = lambda _segment_id: False,
) -> dict[str, Any]:
    """``evaluate_record``'s answer as a tree (``_Evaluator.trace``); its ``result`` is that answer."""
    return _Evaluator(contact, as_utc(as_of), catalog, events, member_of).trace(rule)


def evaluate_record(
    rule: Rule,
    contact: Mapping[str, Any],
    *,
    as_of: datetime,
    catalog: FieldCatalog,
    events: Sequence[Mapping[str, Any]] = (),
    member_of: Callable[[str], bool] = lambda _segment_id: False,
) -> bool:
    """Whether `contact` matches `rule` at `as_of`; `events` are this contact's activity events."""
    return _Evaluator(contact, as_utc(as_of), catalog, events, member_of).match(rule)


class _Evaluator:
    def __init__(self, contact, as_of, catalog, events, member_of):
        self.contact = contact
        self.as_of = as_of
        self.catalog = catalog
        self.events = events
        self.member_of = member_of

    def match(self, rule: Rule) -> bool:
        if isinstance(rule, AllOf):
            return all(self.match(child) for child in rule.all)
        if isinstance(rule, AnyOf):
            return any(self.match(child) for child in rule.any)
        if isinstance(rule, Not):
            return not self.match(rule.not_)
        if isinstance(rule, SegmentRef):
            return bool(self.member_of(rule.segment))
        if isinstance(rule, Sample):
            return sample_matches(rule, self.contact)
        if isinstance(rule, FieldCondition):
            field_type = self.catalog.type_of(rule.field)
            return test(field_type, rule.op, rule.value, self.contact.get(rule.field), self.as_of)
        return self.activity(rule)

    def activity(self, rule: EventCondition) -> bool:
        result, _count = self.aggregate(rule)
        result_type = FieldType.NUMBER if rule.aggregate.fn not in ("first_at", "last_at") else FieldType.DATETIME
        return test(result_type, rule.aggregate.op, rule.aggregate.value, result, self.as_of)

    def aggregate(self, rule: EventCondition) -> tuple[Any, int]:
        """The aggregate's value for this contact and how many events it counted."""
        start = self.as_of - timedelta(days=rule.within_last_days) if rule.within_last_days is not None else None
        matching = []
        for event in self.events:
            if event.get("event") != rule.event:
                continue
            occurred = as_utc(event["occurred_at"])
            if occurred > self.as_of or (start is not None and occurred < start):
                continue
            properties = event.get("properties") or {}
            if all(test_property(c, properties.get(c.field)) for c in rule.where):
                matching.append((occurred, properties))
        agg = rule.aggregate
        result: Any
        if agg.fn == "count":
            result = len(matching)
        elif agg.fn in ("first_at", "last_at"):
            moments = [occurred for occurred, _ in matching]
            result = (min if agg.fn == "first_at" else max)(moments) if moments else None
        else:
            numbers = [n for _, props in matching if (n := property_number(props.get(agg.field))) is not None]
            if agg.fn == "sum":
                result = math.fsum(numbers)
            elif not numbers:
                result = None
            elif agg.fn == "avg":
                result = math.fsum(numbers) / len(numbers)
            else:
                result = (min if agg.fn == "min" else max)(numbers)
        return result, len(matching)

    def trace(self, rule: Rule) -> dict[str, Any]:
        """``match`` with its working shown: the rule's JSON with ``result`` on every node, the
        contact's value (``actual``) on every condition. Every child of a group is traced (no
        short-circuit) so that an explanation shows each condition; the results are ``match``'s."""
        if isinstance(rule, AllOf | AnyOf):
            form = "all" if isinstance(rule, AllOf) else "any"
            children = [self.trace(child) for child in (rule.all if form == "all" else rule.any)]
            combine = all if form == "all" else any
            return {form: children, "result": combine(c["result"] for c in children)}
        if isinstance(rule, Not):
            child = self.trace(rule.not_)
            return {"not": child, "result": not child["result"]}
        node: dict[str, Any] = rule_to_json(rule)
        if isinstance(rule, SegmentRef):
            node["result"] = node["member"] = bool(self.member_of(rule.segment))
        elif isinstance(rule, Sample):
            node["result"] = sample_matches(rule, self.contact)
            node["actual"] = bucket(rule.sample.seed, str(self.contact.get("contact_id") or ""))
        elif isinstance(rule, FieldCondition):
            node["result"] = self.match(rule)
            node["actual"] = json_value(self.contact.get(rule.field))
        else:
            value, counted = self.aggregate(rule)
            node["result"] = self.activity(rule)
            node["actual"] = {"value": json_value(value), "events": counted}
        return node


def sample_matches(rule: Sample, contact: Mapping[str, Any]) -> bool:
    return in_sample(rule.sample.seed, str(contact.get("contact_id") or ""), rule.sample.from_, rule.sample.to)


# ---------------------------------------------------------------------------------------------------
# Leaf tests


def test(field_type: FieldType, op: str, literal: Any, raw: Any, as_of: datetime) -> bool:
    """One condition on one value: SPEC's two-valued semantics, negatives as exact complements."""
    if op in NEGATIONS:
        return not test(field_type, NEGATIONS[op], literal, raw, as_of)
    value = normalise(field_type, raw)
    if op == "is_empty":
        return value is None
    if value is None:
        return False
    if field_type is FieldType.STRING:
        return _string_test(op, literal, value)
    if field_type is FieldType.NUMBER:
        return _number_test(op, literal, value)
    if field_type is FieldType.BOOLEAN:
        return value is (op == "is_true")
    if field_type is FieldType.LIST:
        wanted = {fold(item) for item in literal}
        if op == "has_any":
            return bool(wanted & value)
        return wanted <= value  # has_all
    return _instant_test(field_type, op, literal, value, as_of)


def normalise(field_type: FieldType, raw: Any) -> Any:
    """A stored value in the form the tests compare, or None when it is empty."""
    if raw is None:
        return None
    if field_type is FieldType.STRING:
        text = raw if isinstance(raw, str) else str(raw)
        return text or None
    if field_type is FieldType.NUMBER:
        # Decimal: DynamoDB's number type, should a caller hand over an undecoded item.
        if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
            return None
        try:
            number = float(raw)
        except OverflowError:  # an int beyond float64 cannot be stored in a snapshot either
            return None
        return None if math.isnan(number) else number
    if field_type is FieldType.BOOLEAN:
        return raw if isinstance(raw, bool) else None
    if field_type is FieldType.LIST:
        items = [raw] if isinstance(raw, str) else list(raw)
        lowered = {fold(item) for item in items if isinstance(item, str)}
        return lowered if items else None
    if isinstance(raw, str):
        if not raw:
            return None
        raw = parse_instant(raw)
    if field_type is FieldType.DATE:
        return as_utc(raw).date() if isinstance(raw, datetime) else raw
    return as_utc(raw)


def _string_test(op: str, literal: Any, value: str) -> bool:
    if op == "matches":
        return _regex(literal).search(value) is not None
    folded = fold(value)
    if op == "eq":
        return folded == fold(literal)
    if op == "in":
        return folded in {fold(item) for item in literal}
    if op == "contains":
        return fold(literal) in folded
    if op == "starts_with":
        return folded.startswith(fold(literal))
    if op == "ends_with":
        return folded.endswith(fold(literal))
    raise ValueError(f"string operator {op!r}")


def _number_test(op: str, literal: Any, value: float) -> bool:
    # Literals compare as float64, as in Arrow (an int beyond 2**53 would otherwise compare exactly).
    if op == "between":
        return float(literal[0]) <= value <= float(literal[1])
    if op == "in":
        return value in {float(item) for item in literal}
    literal = float(literal)
    if op == "eq":
        return value == literal
    if op == "gt":
        return value > literal
    if op == "gte":
        return value >= literal
    if op == "lt":
        return value < literal
    if op == "lte":
        return value <= literal
    raise ValueError(f"number operator {op!r}")


def _instant_test(field_type: FieldType, op: str, literal: Any, value: date | datetime, as_of: datetime) -> bool:
    if op in ("within_last_days", "more_than_days_ago", "within_next_days"):
        if field_type is FieldType.DATE:
            now: date | datetime = as_of.date()
            delta = timedelta(days=literal)
        else:
            now, delta = as_of, timedelta(days=literal)
        if op == "within_last_days":
            return now - delta <= value <= now
        if op == "more_than_days_ago":
            return value < now - delta
        return now <= value <= now + delta
    if op == "on":
        return _day(value) == _day(parse_instant(literal))
    if op == "before":
        return _compare(value, parse_instant(literal)) < 0
    if op == "after":
        return _compare(value, parse_instant(literal)) > 0
    if op == "between":
        return _compare(value, parse_instant(literal[0])) >= 0 and _compare(value, parse_instant(literal[1])) <= 0
    raise ValueError(f"date operator {op!r}")


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _compare(value: date | datetime, bound: date | datetime) -> int:
    """Compare as instants when both carry a time of day, otherwise as UTC calendar dates."""
    if isinstance(value, datetime) and isinstance(bound, datetime):
        left, right = value, bound
    else:
        left, right = _day(value), _day(bound)  # type: ignore[assignment]
    return (left > right) - (left < right)


# ---------------------------------------------------------------------------------------------------
# Event properties (stored as strings in the event log)


def property_text(raw: Any) -> str | None:
    """The event log's string form of a property value (None when missing or empty)."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return repr(raw) if math.isfinite(raw) else None
    text = raw if isinstance(raw, str) else str(raw)
    return text or None


def property_number(raw: Any) -> float | None:
    text = property_text(raw)
    if text is None or not _NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def numeric_property_condition(cond: PropertyCondition) -> bool:
    """Whether a where-condition compares the property as a number (else as a string)."""
    if cond.op in ("gt", "gte", "lt", "lte", "between"):
        return True
    if cond.op in ("eq", "neq"):
        return is_number(cond.value)
    if cond.op in ("in", "not_in"):
        return is_number(cond.value[0])
    return False


def test_property(cond: PropertyCondition, raw: Any) -> bool:
    if numeric_property_condition(cond):
        return test(FieldType.NUMBER, cond.op, cond.value, property_number(raw), _NO_CLOCK)
    return test(FieldType.STRING, cond.op, cond.value, property_text(raw), _NO_CLOCK)


# ---------------------------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A contact's or aggregate's value as JSON shows it (instants in ISO 8601, sets as lists)."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(json_value(v) for v in value)
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def as_utc(moment: datetime | date | str) -> datetime:
    if isinstance(moment, str):
        moment = parse_instant(moment)
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return in_utc(moment)


@lru_cache(maxsize=1024)
def _regex(pattern: str):
    """RE2, the engine Arrow uses, so both evaluators read a pattern the same way."""
    import re2

    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)
