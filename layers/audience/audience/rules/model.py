"""The rule language (SPEC §2) as pydantic models, and the parser that checks a JSON rule against a
tenant's field catalog, reporting every violation at once with the JSON pointer of its node.

No pyarrow here: the API validates rules without loading the vectorised engine.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from audience.fields import FieldCatalog, FieldType, UnknownFieldError
from audience.instants import in_utc
from audience.rules.operators import (
    AGGREGATE_FUNCTIONS,
    AGGREGATES_NEEDING_FIELD,
    ALL_OPERATORS,
    OPERATORS,
    PROPERTY_OPERATORS,
    ValueKind,
    aggregate_result_type,
)

try:  # Python's own regex parser (re.compile minus its cache); sre_parse before 3.11
    from re import _parser as _python_regex_parser
except ImportError:  # pragma: no cover
    import sre_parse as _python_regex_parser  # type: ignore[no-redef]

MAX_DEPTH = 6
MAX_CONDITIONS = 100
MAX_STRING = 1000
MAX_LIST = 1000
MAX_DAYS = 100_000  # day counts beyond ~270 years are typos

Operator = Literal[tuple(ALL_OPERATORS)]  # type: ignore[valid-type]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldCondition(_Node):
    """`{"field": F, "op": OP, "value": V}` on a contact field."""

    field: str = Field(max_length=MAX_STRING)
    op: Operator
    value: Any = None


class PropertyCondition(_Node):
    """A condition inside an event's `where`, on one of the event's properties."""

    field: str = Field(max_length=MAX_STRING)
    op: Operator
    value: Any = None


class Aggregate(_Node):
    fn: Literal[AGGREGATE_FUNCTIONS] = "count"  # type: ignore[valid-type]
    field: str | None = None
    op: Operator = "gte"
    value: Any = 1


class EventCondition(_Node):
    """Activity: events named `event`, filtered by `where` and the window, aggregated per contact."""

    event: str = Field(min_length=1, max_length=MAX_STRING)
    where: tuple[PropertyCondition, ...] = ()
    within_last_days: int | None = Field(default=None, ge=0, le=MAX_DAYS)
    aggregate: Aggregate = Aggregate()


class SegmentRef(_Node):
    segment: str = Field(min_length=1, max_length=MAX_STRING)


class SampleRange(_Node):
    """`from`/`to` in percent (0 <= from < to <= 100) and the `seed` that makes one split distinct."""

    from_: float = Field(alias="from", ge=0, le=100)
    to: float = Field(ge=0, le=100)
    seed: str = Field(min_length=1, max_length=MAX_STRING)


class Sample(_Node):
    """`{"sample": {"from": A, "to": B, "seed": S}}`: a stable random bucket of the contact id (holdouts)."""

    sample: SampleRange


class AllOf(_Node):
    all: tuple[Rule, ...] = Field(min_length=1)


class AnyOf(_Node):
    any: tuple[Rule, ...] = Field(min_length=1)


class Not(_Node):
    not_: Rule = Field(alias="not")


Rule = Annotated[Union[AllOf, AnyOf, Not, FieldCondition, EventCondition, SegmentRef, Sample], Field()]  # noqa: UP007
for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()


class RuleValidationError(ValueError):
    """Every problem found in a rule, each as `{"path": JSON pointer, "message": ...}`."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))


# ---------------------------------------------------------------------------------------------------
# Literal values shared by both evaluators


@lru_cache(maxsize=4096)
def parse_instant(text: str) -> date | datetime:
    """An ISO 8601 date (kept as a calendar date) or datetime (made UTC; a zoneless one is UTC)."""
    try:
        return date.fromisoformat(text)  # any date-only form: 2024-05-01, 20240501, 2024-W18-3
    except ValueError:
        pass
    moment = datetime.fromisoformat(text)
    return in_utc(moment)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------------------------------------------
# Parsing


class _Parser:
    def __init__(self, catalog: FieldCatalog, segment_exists: Callable[[str], bool] | None):
        self.catalog = catalog
        self.segment_exists = segment_exists
        self.errors: list[dict[str, str]] = []
        self.conditions = 0

    def error(self, path: str, message: str) -> None:
        self.errors.append({"path": path, "message": message})

    def rule(self, node: Any, path: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            self.error(path, f"rules nest at most {MAX_DEPTH} levels deep")
            return None
        if not isinstance(node, dict):
            self.error(path, "a rule is an object: all, any, not, field, event, segment or sample")
            return None
        forms = [k for k in ("all", "any", "not", "field", "event", "segment", "sample") if k in node]
        if len(forms) != 1:
            self.error(path, "a rule has exactly one of: all, any, not, field, event, segment, sample")
            return None
        form = forms[0]
        if form in ("all", "any", "not", "segment", "sample"):
            extra = sorted(set(node) - {form})
            for key in extra:
                self.error(f"{path}/{_escape(key)}", f"unexpected key in a {form!r} rule")
        if form in ("all", "any"):
            return self.group(form, node[form], f"{path}/{form}", depth)
        if form == "not":
            child = self.rule(node["not"], f"{path}/not", depth + 1)
            return None if child is None else Not(not_=child)
        self.count_condition(path)
        if form == "segment":
            return self.segment(node["segment"], f"{path}/segment")
        if form == "sample":
            return self.sample(node["sample"], f"{path}/sample")
        if form == "field":
            return self.field_condition(node, path)
        return self.event_condition(node, path)

    def count_condition(self, path: str) -> None:
        """Field, event, segment and `where` conditions all count towards the limit; the first one
        beyond it is reported (where-conditions too, or a long `where` would slip past)."""
        self.conditions += 1
        if self.conditions == MAX_CONDITIONS + 1:
            self.error(path, f"a rule has at most {MAX_CONDITIONS} conditions")

    def group(self, form: str, children: Any, path: str, depth: int) -> Any:
        if not isinstance(children, list) or not children:
            self.error(path, f"{form!r} takes a non-empty list of rules")
            return None
        if len(children) > MAX_LIST:
            self.error(path, f"at most {MAX_LIST} items")
            return None
        parsed = [self.rule(child, f"{path}/{i}", depth + 1) for i, child in enumerate(children)]
        if any(p is None for p in parsed):
            return None
        return AllOf(all=tuple(parsed)) if form == "all" else AnyOf(any=tuple(parsed))

    def segment(self, segment_id: Any, path: str) -> Any:
        if not isinstance(segment_id, str) or not segment_id or len(segment_id) > MAX_STRING:
            self.error(path, "a segment reference is a non-empty segment id")
            return None
        if self.segment_exists is not None and not self.segment_exists(segment_id):
            self.error(path, f"no segment {segment_id!r}")
            return None
        return SegmentRef(segment=segment_id)

    def sample(self, node: Any, path: str) -> Any:
        if not isinstance(node, dict):
            self.error(path, 'a sample is an object {"from", "to", "seed"}')
            return None
        if not self.keys(node, path, required={"from", "to", "seed"}, allowed={"from", "to", "seed"}):
            return None
        ok = True
        for key in ("from", "to"):
            value = node[key]
            if not is_number(value) or not 0 <= value <= 100:
                self.error(f"{path}/{key}", "a percentage: a number from 0 to 100")
                ok = False
        if ok and not node["from"] < node["to"]:
            self.error(f"{path}/to", "must be greater than from")
            ok = False
        seed = node["seed"]
        if not isinstance(seed, str) or not seed or len(seed) > MAX_STRING:
            self.error(f"{path}/seed", f"a non-empty string of at most {MAX_STRING} characters")
            ok = False
        return Sample(sample=SampleRange(from_=node["from"], to=node["to"], seed=seed)) if ok else None

    def field_condition(self, node: dict, path: str) -> Any:
        ok = self.keys(node, path, required={"field", "op"}, allowed={"field", "op", "value"})
        name, op = node.get("field"), node.get("op")
        if "field" not in node or "op" not in node:
            return None
        if not isinstance(name, str):
            self.error(f"{path}/field", "a field name is a string")
            return None
        try:
            field_type = self.catalog.type_of(name)
        except UnknownFieldError:
            self.error(f"{path}/field", f"unknown field {name!r}")
            return None
        operators = OPERATORS[field_type]
        if not isinstance(op, str) or op not in operators:
            self.error(f"{path}/op", f"operator {op!r} is not valid for {field_type} field {name!r}; "
                       f"use one of {', '.join(operators)}")
            return None
        ok &= self.value(node, path, operators[op], field_type)
        return FieldCondition(field=name, op=op, value=_literal(node, operators[op])) if ok else None

    def event_condition(self, node: dict, path: str) -> Any:
        ok = self.keys(node, path, required={"event"}, allowed={"event", "where", "within_last_days", "aggregate"})
        name = node.get("event")
        if not isinstance(name, str) or not name or len(name) > MAX_STRING:
            self.error(f"{path}/event", "an event name is a non-empty string")
            ok = False
        where_nodes = node.get("where", [])
        where: list[PropertyCondition] = []
        if not isinstance(where_nodes, list) or len(where_nodes) > MAX_LIST:
            self.error(f"{path}/where", f"'where' is a list of at most {MAX_LIST} conditions")
            ok = False
        else:
            for i, cond in enumerate(where_nodes):
                parsed = self.property_condition(cond, f"{path}/where/{i}")
                ok &= parsed is not None
                where.append(parsed)
        window = node.get("within_last_days")
        if window is not None and not _is_days(window):
            self.error(f"{path}/within_last_days", "a whole number of days, 0 or more")
            ok = False
        aggregate = self.aggregate(node.get("aggregate", {}), f"{path}/aggregate")
        if not ok or aggregate is None:
            return None
        days = None if window is None else _whole(window)
        return EventCondition(event=name, where=tuple(where), within_last_days=days, aggregate=aggregate)

    def property_condition(self, node: Any, path: str) -> Any:
        if not isinstance(node, dict):
            self.error(path, "a where condition is an object {field, op, value}")
            return None
        self.count_condition(path)
        ok = self.keys(node, path, required={"field", "op"}, allowed={"field", "op", "value"})
        name, op = node.get("field"), node.get("op")
        if "field" not in node or "op" not in node:
            return None
        if not isinstance(name, str) or not name or len(name) > MAX_STRING:
            self.error(f"{path}/field", "a property name is a non-empty string")
            return None
        if not isinstance(op, str) or op not in PROPERTY_OPERATORS:
            self.error(f"{path}/op", f"operator {op!r} is not valid on an event property; "
                       f"use one of {', '.join(PROPERTY_OPERATORS)}")
            return None
        ok &= self.value(node, path, PROPERTY_OPERATORS[op], None)
        return PropertyCondition(field=name, op=op, value=_literal(node, PROPERTY_OPERATORS[op])) if ok else None

    def aggregate(self, node: Any, path: str) -> Aggregate | None:
        if not isinstance(node, dict):
            self.error(path, "an aggregate is an object {fn, field, op, value}")
            return None
        ok = self.keys(node, path, required=set(), allowed={"fn", "field", "op", "value"})
        fn = node.get("fn", "count")
        if not isinstance(fn, str) or fn not in AGGREGATE_FUNCTIONS:
            self.error(f"{path}/fn", f"aggregate function is one of {', '.join(AGGREGATE_FUNCTIONS)}")
            return None
        prop = node.get("field")
        if fn in AGGREGATES_NEEDING_FIELD and (not isinstance(prop, str) or not prop or len(prop) > MAX_STRING):
            self.error(f"{path}/field", f"{fn!r} needs the event property to aggregate (a non-empty string)")
            ok = False
        elif fn not in AGGREGATES_NEEDING_FIELD and prop is not None:
            self.error(f"{path}/field", f"{fn!r} takes no field")
            ok = False
        result_type = aggregate_result_type(fn)
        if "op" not in node:
            node = {**node, "op": "gte", "value": node.get("value", 1)}
        op = node["op"]
        if not isinstance(op, str) or op not in OPERATORS[result_type]:
            self.error(f"{path}/op", f"operator {op!r} does not apply to {fn!r}")
            return None
        ok &= self.value(node, path, OPERATORS[result_type][op], result_type)
        return Aggregate(fn=fn, field=prop, op=op, value=_literal(node, OPERATORS[result_type][op])) if ok else None

    def keys(self, node: dict, path: str, *, required: set[str], allowed: set[str]) -> bool:
        ok = True
        for key in sorted(set(node) - allowed):
            self.error(f"{path}/{_escape(key)}", "unexpected key")
            ok = False
        for key in sorted(required - set(node)):
            self.error(f"{path}/{key}", "required")
            ok = False
        return ok

    def value(self, node: dict, path: str, kind: ValueKind, field_type: FieldType | None) -> bool:
        """Check `value` against what the operator takes; True when it is acceptable."""
        vpath = f"{path}/value"
        value = node.get("value")
        if kind is ValueKind.NONE:
            if value is not None:
                self.error(vpath, f"operator {node.get('op')!r} takes no value")
                return False
            return True
        if "value" not in node or value is None:
            self.error(vpath, f"operator {node.get('op')!r} needs a value")
            return False
        if kind is ValueKind.STRING:
            return self.string(value, vpath, regex=node.get("op") == "matches")
        if kind is ValueKind.NUMBER:
            if not is_number(value):
                self.error(vpath, "a number")
                return False
            return True
        if kind is ValueKind.SCALAR:
            if is_number(value):
                return True
            return self.string(value, vpath)
        if kind is ValueKind.DAYS:
            if not _is_days(value):
                self.error(vpath, "a whole number of days, 0 or more")
                return False
            return True
        if kind is ValueKind.INSTANT:
            return self.instant(value, vpath)
        if kind in (ValueKind.STRINGS, ValueKind.NUMBERS, ValueKind.SCALARS):
            if not isinstance(value, list) or not value:
                self.error(vpath, "a non-empty list")
                return False
            if len(value) > MAX_LIST:
                self.error(vpath, f"at most {MAX_LIST} items")
                return False
            ok = True
            for i, item in enumerate(value):
                if kind is ValueKind.NUMBERS and not is_number(item):
                    self.error(f"{vpath}/{i}", "a number")
                    ok = False
                elif kind is ValueKind.STRINGS and not self.string(item, f"{vpath}/{i}"):
                    ok = False
                elif kind is ValueKind.SCALARS and not is_number(item) and not self.string(item, f"{vpath}/{i}"):
                    ok = False
            if ok and kind is ValueKind.SCALARS and len({is_number(v) for v in value}) > 1:
                self.error(vpath, "all numbers or all strings, not both")
                ok = False
            return ok
        # ranges
        if not isinstance(value, list) or len(value) != 2:
            self.error(vpath, "'between' takes [low, high]")
            return False
        if kind is ValueKind.NUMBER_RANGE:
            ok = True
            for i, item in enumerate(value):
                if not is_number(item):
                    self.error(f"{vpath}/{i}", "a number")
                    ok = False
            if ok and value[0] > value[1]:
                self.error(vpath, "low must not be greater than high")
                ok = False
            return ok
        ok = self.instant(value[0], f"{vpath}/0") & self.instant(value[1], f"{vpath}/1")
        if ok and _range_reversed(parse_instant(value[0]), parse_instant(value[1])):
            self.error(vpath, "low must not be later than high")
            ok = False
        return ok

    def string(self, value: Any, path: str, *, regex: bool = False) -> bool:
        if not isinstance(value, str):
            self.error(path, "a string")
            return False
        if len(value) > MAX_STRING:
            self.error(path, f"at most {MAX_STRING} characters")
            return False
        if regex:
            problem = regex_problem(value)
            if problem:
                self.error(path, problem)
                return False
        return True

    def instant(self, value: Any, path: str) -> bool:
        if not isinstance(value, str) or len(value) > 64:
            self.error(path, "an ISO 8601 date or datetime string")
            return False
        try:
            parse_instant(value)
        except ValueError:
            self.error(path, f"{value!r} is not an ISO 8601 date or datetime")
            return False
        return True


def _range_reversed(low: date | datetime, high: date | datetime) -> bool:
    def start(v: date | datetime) -> datetime:
        return v if isinstance(v, datetime) else datetime(v.year, v.month, v.day, tzinfo=UTC)

    return start(low) > start(high)


def _is_days(value: Any) -> bool:
    """A day count is a JSON Schema integer from 0 to MAX_DAYS: ``30`` or ``30.0`` (what the rule
    schema's ``type: integer`` allows too), never ``30.5``, ``true`` or ``"30"``."""
    return _whole(value) is not None and 0 <= value <= MAX_DAYS


def _whole(value: Any) -> int | None:
    """``value`` as an int when it is a JSON integer (an int, or a float with no fractional part)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _literal(node: dict, kind: ValueKind) -> Any:
    """The condition's value as the evaluators take it: a day count always an int (``30.0`` is 30)."""
    value = node.get("value")
    return _whole(value) if kind is ValueKind.DAYS else value


def _escape(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def regex_problem(pattern: str) -> str | None:
    """None when the pattern is in the subset both RE2 and Python `re` accept, else why not."""
    import re2  # google-re2; imported lazily, only rules with `matches` need it

    try:
        with warnings.catch_warnings():
            # Python warns where it reads a pattern differently from POSIX/RE2 ("[[:alpha:]]", "[a--b]"):
            # such a pattern would mean two things, so it is outside the shared subset. The parser is
            # called directly because re.compile caches and warns only the first time.
            warnings.simplefilter("error", FutureWarning)
            _python_regex_parser.parse(pattern)
    except FutureWarning as warning:
        return f"ambiguous regular expression (Python and RE2 read it differently): {warning}"
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return f"regular expression outside the subset RE2 and Python share: {reason}"
    return None


def parse_rule(
    data: Any,
    catalog: FieldCatalog,
    *,
    pointer: str = "/rules",
    segment_exists: Callable[[str], bool] | None = None,
) -> Rule:
    """Check `data` against the rule language and the catalog; raise RuleValidationError with all
    problems, each at its JSON pointer below `pointer`."""
    parser = _Parser(catalog, segment_exists)
    rule = parser.rule(data, pointer, 1)
    if parser.errors or rule is None:
        raise RuleValidationError(parser.errors or [{"path": pointer, "message": "invalid rule"}])
    return rule


def rule_to_json(rule: Rule) -> dict[str, Any]:
    """The canonical JSON form of a parsed rule (what `parse_rule` accepts back)."""
    if isinstance(rule, AllOf):
        return {"all": [rule_to_json(r) for r in rule.all]}
    if isinstance(rule, AnyOf):
        return {"any": [rule_to_json(r) for r in rule.any]}
    if isinstance(rule, Not):
        return {"not": rule_to_json(rule.not_)}
    if isinstance(rule, SegmentRef):
        return {"segment": rule.segment}
    if isinstance(rule, FieldCondition):
        return _condition_json(rule)
    if isinstance(rule, Sample):
        return {"sample": {"from": rule.sample.from_, "to": rule.sample.to, "seed": rule.sample.seed}}
    out: dict[str, Any] = {"event": rule.event}
    if rule.where:
        out["where"] = [_condition_json(c) for c in rule.where]
    if rule.within_last_days is not None:
        out["within_last_days"] = rule.within_last_days
    agg = rule.aggregate
    out["aggregate"] = {"fn": agg.fn, **({"field": agg.field} if agg.field else {}), **_condition_json(agg)}
    return out


def _condition_json(cond: FieldCondition | PropertyCondition | Aggregate) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(cond, Aggregate):
        out["field"] = cond.field
    out["op"] = cond.op
    if cond.value is not None:
        out["value"] = cond.value
    return out
