"""Which operators each field type takes, and what value each operator expects.

One table drives validation, the JSON Schema and both evaluators, so they cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum

from audience.fields import FieldType


class ValueKind(StrEnum):
    NONE = "none"  # unary operator: no value
    STRING = "string"
    STRINGS = "strings"  # non-empty list of strings
    NUMBER = "number"
    NUMBERS = "numbers"  # non-empty list of numbers
    NUMBER_RANGE = "number_range"  # [low, high], low <= high
    INSTANT = "instant"  # ISO 8601 date or datetime
    INSTANT_RANGE = "instant_range"
    DAYS = "days"  # non-negative whole number of days
    SCALAR = "scalar"  # event property: string or number
    SCALARS = "scalars"  # event property: non-empty list of strings or numbers


UNARY = {"is_empty": ValueKind.NONE, "is_not_empty": ValueKind.NONE}

OPERATORS: dict[FieldType, dict[str, ValueKind]] = {
    FieldType.STRING: {
        "eq": ValueKind.STRING,
        "neq": ValueKind.STRING,
        "in": ValueKind.STRINGS,
        "not_in": ValueKind.STRINGS,
        "contains": ValueKind.STRING,
        "not_contains": ValueKind.STRING,
        "starts_with": ValueKind.STRING,
        "ends_with": ValueKind.STRING,
        "matches": ValueKind.STRING,
        **UNARY,
    },
    FieldType.NUMBER: {
        "eq": ValueKind.NUMBER,
        "neq": ValueKind.NUMBER,
        "gt": ValueKind.NUMBER,
        "gte": ValueKind.NUMBER,
        "lt": ValueKind.NUMBER,
        "lte": ValueKind.NUMBER,
        "between": ValueKind.NUMBER_RANGE,
        "in": ValueKind.NUMBERS,
        "not_in": ValueKind.NUMBERS,
        **UNARY,
    },
    FieldType.BOOLEAN: {"is_true": ValueKind.NONE, "is_false": ValueKind.NONE, **UNARY},
    FieldType.LIST: {
        "has_any": ValueKind.STRINGS,
        "has_all": ValueKind.STRINGS,
        "has_none": ValueKind.STRINGS,
        **UNARY,
    },
}
_DATE_OPS = {
    "on": ValueKind.INSTANT,
    "before": ValueKind.INSTANT,
    "after": ValueKind.INSTANT,
    "between": ValueKind.INSTANT_RANGE,
    "within_last_days": ValueKind.DAYS,
    "more_than_days_ago": ValueKind.DAYS,
    "within_next_days": ValueKind.DAYS,
    **UNARY,
}
OPERATORS[FieldType.DATE] = dict(_DATE_OPS)
OPERATORS[FieldType.DATETIME] = dict(_DATE_OPS)

# Conditions inside an event's `where` look at event properties, which carry no declared type:
# the operator and the value's type decide whether the property is compared as a number or a string.
PROPERTY_OPERATORS: dict[str, ValueKind] = {
    "eq": ValueKind.SCALAR,
    "neq": ValueKind.SCALAR,
    "in": ValueKind.SCALARS,
    "not_in": ValueKind.SCALARS,
    "contains": ValueKind.STRING,
    "not_contains": ValueKind.STRING,
    "starts_with": ValueKind.STRING,
    "ends_with": ValueKind.STRING,
    "matches": ValueKind.STRING,
    "gt": ValueKind.NUMBER,
    "gte": ValueKind.NUMBER,
    "lt": ValueKind.NUMBER,
    "lte": ValueKind.NUMBER,
    "between": ValueKind.NUMBER_RANGE,
    **UNARY,
}

# Negative operators are the exact complements of positive ones: an empty value fails the positive
# operator and therefore passes its negative.
NEGATIONS = {"neq": "eq", "not_in": "in", "not_contains": "contains", "has_none": "has_any", "is_not_empty": "is_empty"}

AGGREGATE_FUNCTIONS = ("count", "sum", "min", "max", "avg", "first_at", "last_at")
NUMERIC_AGGREGATES = ("count", "sum", "min", "max", "avg")
AGGREGATES_NEEDING_FIELD = ("sum", "min", "max", "avg")


def aggregate_result_type(fn: str) -> FieldType:
    """The type an aggregate's result is compared as."""
    return FieldType.NUMBER if fn in NUMERIC_AGGREGATES else FieldType.DATETIME


ALL_OPERATORS = sorted({op for ops in OPERATORS.values() for op in ops} | set(PROPERTY_OPERATORS))

# A property value written as a number compares numerically; this is the one definition of
# "looks like a number" that both evaluators use (ASCII digits only).
NUMBER_PATTERN = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
