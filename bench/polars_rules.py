"""The rule language compiled to Polars expressions, so the benchmark can run the same rules in Polars.

Only the benchmark uses this. It mirrors `bench/sql.py` and must give exactly SPEC §2's answers,
which Polars' three-valued (Kleene) logic does not by itself: every leaf here is a null-free boolean
(`fill_null(False)` under the empty test spelled out per type), so `~`, `&` and `|` above the leaves
are two-valued. Zoned timestamps are compared with UTC literals and calendar days are taken in UTC
(the snapshot's datetime columns are `Datetime("us", "UTC")`).

Activity conditions become one aggregate per distinct condition (a lazy group-by over the event log,
left-joined by contact id); segment references inline the referenced segment's expression.
`members` runs every segment in one lazy query and hands each segment's member ids back as Arrow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from audience.fields import FieldCatalog, FieldType
from audience.rules.model import (
    AllOf,
    AnyOf,
    EventCondition,
    FieldCondition,
    Not,
    PropertyCondition,
    Rule,
    SegmentRef,
    parse_instant,
    rule_to_json,
)
from audience.rules.operators import NEGATIONS, NUMBER_PATTERN
from audience.rules.record import as_utc, numeric_property_condition

_NO_CLOCK = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class PolarsCompiler:
    """Compiles rules to null-free boolean Polars expressions over the contacts frame."""

    catalog: FieldCatalog
    as_of: datetime
    rules: Mapping[str, Rule] = field(default_factory=dict)
    activities: dict[str, tuple[str, EventCondition]] = field(default_factory=dict)  # key -> (column, condition)

    def __post_init__(self) -> None:
        self.as_of = as_utc(self.as_of)

    def rule(self, rule: Rule) -> pl.Expr:
        if isinstance(rule, AllOf):
            return pl.all_horizontal([self.rule(child) for child in rule.all])
        if isinstance(rule, AnyOf):
            return pl.any_horizontal([self.rule(child) for child in rule.any])
        if isinstance(rule, Not):
            return ~self.rule(rule.not_)
        if isinstance(rule, SegmentRef):
            referenced = self.rules.get(rule.segment)
            return self.rule(referenced) if referenced is not None else pl.lit(False)
        if isinstance(rule, FieldCondition):
            return condition(self.catalog.type_of(rule.field), rule.op, rule.value, pl.col(rule.field), self.as_of)
        return self.activity(rule)

    def activity(self, cond: EventCondition) -> pl.Expr:
        key = json.dumps(rule_to_json(cond), sort_keys=True)
        if key not in self.activities:
            self.activities[key] = (f"__activity_{len(self.activities)}", cond)
        value = pl.col(self.activities[key][0])
        agg = cond.aggregate
        if agg.fn in ("count", "sum"):
            value = value.fill_null(0.0)
        result_type = FieldType.DATETIME if agg.fn in ("first_at", "last_at") else FieldType.NUMBER
        return condition(result_type, agg.op, agg.value, value, self.as_of)

    def aggregates(self, events: pl.LazyFrame) -> list[pl.LazyFrame]:
        """One contact_id -> value frame per distinct activity condition compiled so far."""
        return [self._aggregate(name, cond, events) for name, cond in self.activities.values()]

    def _aggregate(self, name: str, cond: EventCondition, events: pl.LazyFrame) -> pl.LazyFrame:
        at = pl.col("occurred_at")
        filters = [pl.col("event") == cond.event, at <= self.as_of]
        if cond.within_last_days is not None:
            filters.append(at >= self.as_of - timedelta(days=cond.within_last_days))
        filters += [property_condition(where) for where in cond.where]
        agg = cond.aggregate
        if agg.fn == "count":
            value = pl.len().cast(pl.Float64)
        elif agg.fn in ("first_at", "last_at"):
            value = at.min() if agg.fn == "first_at" else at.max()
        else:
            number = property_number(property_text(agg.field))
            filters.append(number.is_not_null())
            value = {"sum": number.sum(), "avg": number.mean(), "min": number.min(), "max": number.max()}[agg.fn]
        return events.filter(pl.all_horizontal(filters)).group_by("contact_id").agg(value.alias(name))


def members(
    segments: Sequence[tuple[str, Rule]],
    contacts: pl.LazyFrame,
    events: pl.LazyFrame,
    *,
    catalog: FieldCatalog,
    as_of: datetime,
    streaming: bool = True,
) -> dict[str, pa.Array]:
    """Every segment's member ids, as Arrow: one lazy query computing each segment's null-free
    boolean column beside the ids (on the streaming engine by default), then each column's ids taken.

    Measured at 1M x 50: ~2x faster than selecting `contact_id.filter(rule).implode()` per segment in
    the query itself, which the streaming engine buffers per segment (5 GB at 10M)."""
    compiler = PolarsCompiler(catalog, as_of, rules=dict(segments))
    predicates = {sid: compiler.rule(rule) for sid, rule in segments}
    frame = contacts
    for aggregate in compiler.aggregates(events):
        frame = frame.join(aggregate, on="contact_id", how="left")
    query = frame.select([pl.col("contact_id"), *(predicate.alias(sid) for sid, predicate in predicates.items())])
    table = query.collect(engine="streaming" if streaming else "auto").to_arrow()
    ids = table.column("contact_id")
    return {sid: pa.concat_arrays(pc.filter(ids, table.column(sid)).chunks) if ids.num_chunks
            else pa.array([], pa.string()) for sid in predicates}


# ---------------------------------------------------------------------------------------------------
# Leaves: null-free booleans


def empty(field_type: FieldType, expr: pl.Expr) -> pl.Expr:
    if field_type is FieldType.STRING:
        return expr.is_null() | (expr == "").fill_null(True)
    if field_type is FieldType.NUMBER:
        return expr.is_null() | expr.is_nan().fill_null(True)
    if field_type is FieldType.LIST:
        return expr.is_null() | (expr.list.len() == 0).fill_null(True)
    return expr.is_null()


def condition(field_type: FieldType, op: str, literal: Any, expr: pl.Expr, as_of: datetime) -> pl.Expr:
    """One condition as a boolean that is never null: empty values fail positives, pass negatives."""
    if op in NEGATIONS:
        return ~condition(field_type, NEGATIONS[op], literal, expr, as_of)
    is_empty = empty(field_type, expr)
    if op == "is_empty":
        return is_empty
    return ~is_empty & _positive(field_type, op, literal, expr, as_of).fill_null(False)


def _positive(field_type: FieldType, op: str, literal: Any, expr: pl.Expr, as_of: datetime) -> pl.Expr:
    if field_type is FieldType.STRING:
        if op == "matches":
            return expr.str.contains(literal)
        folded = expr.str.to_lowercase()
        if op == "eq":
            return folded == literal.lower()
        if op == "in":
            return folded.is_in([v.lower() for v in literal])
        if op == "contains":
            return folded.str.contains(literal.lower(), literal=True)
        if op == "starts_with":
            return folded.str.starts_with(literal.lower())
        if op == "ends_with":
            return folded.str.ends_with(literal.lower())
    elif field_type is FieldType.NUMBER:
        if op == "in":
            return expr.is_in([float(v) for v in literal])
        if op == "between":
            return (expr >= float(literal[0])) & (expr <= float(literal[1]))
        low = float(literal)
        return {"eq": expr == low, "gt": expr > low, "gte": expr >= low, "lt": expr < low, "lte": expr <= low}[op]
    elif field_type is FieldType.BOOLEAN:
        return expr if op == "is_true" else ~expr
    elif field_type is FieldType.LIST:
        folded = expr.list.eval(pl.element().str.to_lowercase())
        tests = [folded.list.contains(value.lower()) for value in dict.fromkeys(literal)]
        return pl.all_horizontal(tests) if op == "has_all" else pl.any_horizontal(tests)
    else:
        return _instant(field_type, op, literal, expr, as_of)
    raise ValueError(f"operator {op!r} on {field_type}")


def _instant(field_type: FieldType, op: str, literal: Any, expr: pl.Expr, as_of: datetime) -> pl.Expr:
    is_date = field_type is FieldType.DATE
    if op in ("within_last_days", "more_than_days_ago", "within_next_days"):
        delta = timedelta(days=literal)
        now: date | datetime = as_of.date() if is_date else as_of
        low, high = now - delta, now + delta
        if op == "within_last_days":
            return (expr >= low) & (expr <= now)
        if op == "more_than_days_ago":
            return expr < low
        return (expr >= now) & (expr <= high)
    day = expr if is_date else expr.dt.convert_time_zone("UTC").dt.date()
    if op == "on":
        return day == _utc_day(parse_instant(literal))

    def compare(bound_text: str, symbol: str) -> pl.Expr:
        bound = parse_instant(bound_text)
        left, right = (expr, bound.astimezone(UTC)) if isinstance(bound, datetime) and not is_date \
            else (day, _utc_day(bound))
        return {"<": left < right, ">": left > right, ">=": left >= right, "<=": left <= right}[symbol]

    if op == "before":
        return compare(literal, "<")
    if op == "after":
        return compare(literal, ">")
    return compare(literal[0], ">=") & compare(literal[1], "<=")


def _utc_day(bound: date | datetime) -> date:
    return bound.astimezone(UTC).date() if isinstance(bound, datetime) else bound


# ---------------------------------------------------------------------------------------------------
# Event properties: strings in a MAP; numbers only when they look like one (ASCII digits) and are finite


def property_text(name: str) -> pl.Expr:
    """The value stored under `name` in the event's properties (null when absent)."""
    return pl.col("properties").map.get(name)


def property_number(text: pl.Expr) -> pl.Expr:
    number = text.cast(pl.Float64, strict=False)
    return pl.when(text.str.contains(NUMBER_PATTERN) & number.is_finite()).then(number).otherwise(None)


def property_condition(cond: PropertyCondition) -> pl.Expr:
    text = property_text(cond.field)
    if numeric_property_condition(cond):
        return condition(FieldType.NUMBER, cond.op, cond.value, property_number(text), _NO_CLOCK)
    return condition(FieldType.STRING, cond.op, cond.value, text, _NO_CLOCK)
