"""The rule language compiled to DuckDB SQL, so the benchmark can run the same rules in DuckDB.

Only the benchmark uses this. It must give exactly SPEC §2's answers, which SQL's three-valued
logic does not by itself: every leaf here is a null-free boolean (`COALESCE(..., FALSE)` with the
empty test spelled out per type), so `NOT`, `AND` and `OR` above the leaves are two-valued. Zoned
timestamps are compared only with explicitly zoned literals (`TIMESTAMPTZ '...+00:00'`) and
calendar days are taken in UTC (`AT TIME ZONE 'UTC'`), whatever the session's time zone.

Activity conditions become one aggregate per distinct condition (a CTE over the event log,
LEFT JOINed by contact id); segment references inline the referenced segment's expression.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

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


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _number(value: float | int) -> str:
    return f"CAST({float(value)!r} AS DOUBLE)"


def _timestamp(moment: datetime) -> str:
    return f"TIMESTAMPTZ {quote(moment.astimezone(UTC).isoformat())}"


def _date(day: date) -> str:
    return f"DATE {quote(day.isoformat())}"


@dataclass
class SqlCompiler:
    """Compiles rules to boolean SQL expressions over a contacts relation aliased `c`."""

    catalog: FieldCatalog
    as_of: datetime
    events_relation: str = "events"
    rules: Mapping[str, Rule] = field(default_factory=dict)
    activities: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (cte name, cte sql)

    def __post_init__(self) -> None:
        self.as_of = as_utc(self.as_of)

    # -- rules -------------------------------------------------------------------------------

    def rule(self, rule: Rule) -> str:
        if isinstance(rule, AllOf):
            return "(" + " AND ".join(self.rule(child) for child in rule.all) + ")"
        if isinstance(rule, AnyOf):
            return "(" + " OR ".join(self.rule(child) for child in rule.any) + ")"
        if isinstance(rule, Not):
            return f"(NOT {self.rule(rule.not_)})"
        if isinstance(rule, SegmentRef):
            referenced = self.rules.get(rule.segment)
            return self.rule(referenced) if referenced is not None else "FALSE"
        if isinstance(rule, FieldCondition):
            field_type = self.catalog.type_of(rule.field)
            return condition(field_type, rule.op, rule.value, f"c.{ident(rule.field)}", self.as_of)
        return self.activity(rule)

    def activity(self, cond: EventCondition) -> str:
        key = json.dumps(rule_to_json(cond), sort_keys=True)
        if key not in self.activities:
            name = f"a{len(self.activities)}"
            self.activities[key] = (name, self._aggregate_cte(cond))
        name = self.activities[key][0]
        agg = cond.aggregate
        value = f"{name}.v"
        if agg.fn in ("count", "sum"):
            value = f"COALESCE({value}, 0.0)"
        result_type = FieldType.DATETIME if agg.fn in ("first_at", "last_at") else FieldType.NUMBER
        return condition(result_type, agg.op, agg.value, value, self.as_of)

    def _aggregate_cte(self, cond: EventCondition) -> str:
        filters = [f"e.event = {quote(cond.event)}", f"e.occurred_at <= {_timestamp(self.as_of)}"]
        if cond.within_last_days is not None:
            filters.append(f"e.occurred_at >= {_timestamp(self.as_of - timedelta(days=cond.within_last_days))}")
        filters += [property_condition(where) for where in cond.where]
        agg = cond.aggregate
        if agg.fn == "count":
            value = "CAST(count(*) AS DOUBLE)"
        elif agg.fn in ("first_at", "last_at"):
            value = f"{'min' if agg.fn == 'first_at' else 'max'}(e.occurred_at)"
        else:
            number = property_number(f"e.properties[{quote(agg.field)}]")
            filters.append(f"({number}) IS NOT NULL")
            # fsum: exactly rounded, as the per-record reference sums (math.fsum)
            fn = {"sum": "fsum({})", "avg": "fsum({0}) / count({0})", "min": "min({})", "max": "max({})"}[agg.fn]
            value = fn.format(number)
        where = " AND ".join(filters)
        return (f"SELECT e.contact_id, {value} AS v FROM {self.events_relation} e WHERE {where} "
                f"GROUP BY e.contact_id")


def compile_counts(
    segments: Sequence[tuple[str, Rule]],
    *,
    contacts_relation: str,
    events_relation: str,
    catalog: FieldCatalog,
    as_of: datetime,
) -> tuple[str, list[str]]:
    """One query answering every segment's member count in one scan: (sql, segment ids in column order)."""
    return _per_segment(segments, "count_if({})", contacts_relation=contacts_relation,
                        events_relation=events_relation, catalog=catalog, as_of=as_of)


def compile_member_lists(
    segments: Sequence[tuple[str, Rule]],
    *,
    contacts_relation: str,
    events_relation: str,
    catalog: FieldCatalog,
    as_of: datetime,
) -> tuple[str, list[str]]:
    """One query producing every segment's member ids in one scan: one row, a list of ids per segment
    (NULL for a segment without members), fetched as Arrow: (sql, segment ids in column order)."""
    return _per_segment(segments, "list(c.contact_id) FILTER (WHERE {})", contacts_relation=contacts_relation,
                        events_relation=events_relation, catalog=catalog, as_of=as_of)


def _per_segment(segments: Sequence[tuple[str, Rule]], aggregate: str, *, contacts_relation: str,
                 events_relation: str, catalog: FieldCatalog, as_of: datetime) -> tuple[str, list[str]]:
    """One aggregate column per segment (`aggregate` formatted with its predicate) over one scan."""
    compiler = SqlCompiler(catalog, as_of, events_relation=events_relation, rules=dict(segments))
    columns = [f"{aggregate.format(compiler.rule(rule))} AS {ident(sid)}" for sid, rule in segments]
    return _assemble(compiler, contacts_relation, ", ".join(columns)), [sid for sid, _ in segments]


def member_lists_to_arrow(table) -> dict:
    """{segment id: pyarrow array of member ids} from `compile_member_lists`' one-row Arrow result."""
    import pyarrow as pa

    found = {}
    for sid in table.column_names:
        chunks = [chunk.flatten() for chunk in table.column(sid).chunks]
        found[sid] = pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())
    return found


def compile_members(
    rule: Rule,
    *,
    contacts_relation: str,
    events_relation: str,
    catalog: FieldCatalog,
    as_of: datetime,
    rules: Mapping[str, Rule] | None = None,
) -> str:
    """A query selecting the contact ids one rule matches (references resolved against `rules`)."""
    compiler = SqlCompiler(catalog, as_of, events_relation=events_relation, rules=dict(rules or {}))
    predicate = compiler.rule(rule)
    return _assemble(compiler, contacts_relation, "c.contact_id", where=predicate)


def _assemble(compiler: SqlCompiler, contacts_relation: str, select: str, where: str | None = None) -> str:
    ctes = [f"{name} AS ({sql})" for name, sql in compiler.activities.values()]
    names = [name for name, _ in compiler.activities.values()]
    joins = "".join(f" LEFT JOIN {name} ON {name}.contact_id = c.contact_id" for name in names)
    head = f"WITH {', '.join(ctes)} " if ctes else ""
    tail = f" WHERE {where}" if where else ""
    return f"{head}SELECT {select} FROM {contacts_relation} c{joins}{tail}"


# ---------------------------------------------------------------------------------------------------
# Leaves: null-free booleans


def empty(field_type: FieldType, expr: str) -> str:
    if field_type is FieldType.STRING:
        return f"({expr} IS NULL OR {expr} = '')"
    if field_type is FieldType.NUMBER:
        return f"({expr} IS NULL OR isnan({expr}))"
    if field_type is FieldType.LIST:
        return f"({expr} IS NULL OR len({expr}) = 0)"
    return f"({expr} IS NULL)"


def condition(field_type: FieldType, op: str, literal: Any, expr: str, as_of: datetime) -> str:
    """One condition as a boolean that is never NULL: empty values fail positives, pass negatives."""
    if op in NEGATIONS:
        return f"(NOT {condition(field_type, NEGATIONS[op], literal, expr, as_of)})"
    is_empty = empty(field_type, expr)
    if op == "is_empty":
        return is_empty
    return f"(NOT {is_empty} AND COALESCE({_positive(field_type, op, literal, expr, as_of)}, FALSE))"


def _positive(field_type: FieldType, op: str, literal: Any, expr: str, as_of: datetime) -> str:
    if field_type is FieldType.STRING:
        if op == "matches":
            return f"regexp_matches({expr}, {quote(literal)})"
        folded = f"lower({expr})"
        if op == "eq":
            return f"{folded} = {quote(literal.lower())}"
        if op == "in":
            return f"{folded} IN ({', '.join(quote(v.lower()) for v in literal)})"
        if op == "contains":
            return f"contains({folded}, {quote(literal.lower())})"
        if op == "starts_with":
            return f"starts_with({folded}, {quote(literal.lower())})"
        if op == "ends_with":
            return f"ends_with({folded}, {quote(literal.lower())})"
    elif field_type is FieldType.NUMBER:
        if op == "in":
            return f"{expr} IN ({', '.join(_number(v) for v in literal)})"
        if op == "between":
            return f"({expr} >= {_number(literal[0])} AND {expr} <= {_number(literal[1])})"
        symbol = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return f"{expr} {symbol} {_number(literal)}"
    elif field_type is FieldType.BOOLEAN:
        return expr if op == "is_true" else f"(NOT {expr})"
    elif field_type is FieldType.LIST:
        folded = f"list_transform({expr}, lambda x: lower(x))"
        wanted = "[" + ", ".join(quote(v.lower()) for v in dict.fromkeys(literal)) + "]"
        return f"{'list_has_all' if op == 'has_all' else 'list_has_any'}({folded}, {wanted})"
    else:
        return _instant(field_type, op, literal, expr, as_of)
    raise ValueError(f"operator {op!r} on {field_type}")


def _instant(field_type: FieldType, op: str, literal: Any, expr: str, as_of: datetime) -> str:
    is_date = field_type is FieldType.DATE
    if op in ("within_last_days", "more_than_days_ago", "within_next_days"):
        delta = timedelta(days=literal)
        if is_date:
            today = as_of.date()
            low, now, high = _date(today - delta), _date(today), _date(today + delta)
        else:
            low, now, high = _timestamp(as_of - delta), _timestamp(as_of), _timestamp(as_of + delta)
        if op == "within_last_days":
            return f"({expr} >= {low} AND {expr} <= {now})"
        if op == "more_than_days_ago":
            return f"{expr} < {low}"
        return f"({expr} >= {now} AND {expr} <= {high})"
    day = expr if is_date else f"CAST(({expr} AT TIME ZONE 'UTC') AS DATE)"
    if op == "on":
        return f"{day} = {_date(_utc_day(parse_instant(literal)))}"

    def compare(bound_text: str, symbol: str) -> str:
        bound = parse_instant(bound_text)
        if isinstance(bound, datetime) and not is_date:
            return f"{expr} {symbol} {_timestamp(bound)}"
        return f"{day} {symbol} {_date(_utc_day(bound))}"

    if op == "before":
        return compare(literal, "<")
    if op == "after":
        return compare(literal, ">")
    return f"({compare(literal[0], '>=')} AND {compare(literal[1], '<=')})"


def _utc_day(bound: date | datetime) -> date:
    return bound.astimezone(UTC).date() if isinstance(bound, datetime) else bound


# ---------------------------------------------------------------------------------------------------
# Event properties: strings in a MAP; numbers only when they look like one (ASCII digits) and are finite


def property_number(text_expr: str) -> str:
    return (f"CASE WHEN regexp_full_match({text_expr}, {quote(NUMBER_PATTERN)}) "
            f"AND isfinite(TRY_CAST({text_expr} AS DOUBLE)) THEN TRY_CAST({text_expr} AS DOUBLE) END")


def property_condition(cond: PropertyCondition) -> str:
    text = f"e.properties[{quote(cond.field)}]"
    if numeric_property_condition(cond):
        return condition(FieldType.NUMBER, cond.op, cond.value, f"({property_number(text)})", _NO_CLOCK)
    return condition(FieldType.STRING, cond.op, cond.value, text, _NO_CLOCK)


_NO_CLOCK = datetime(1970, 1, 1, tzinfo=UTC)


def connect(threads: int | None = None):
    """A DuckDB connection with the session pinned to UTC (and optionally a thread count)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con
