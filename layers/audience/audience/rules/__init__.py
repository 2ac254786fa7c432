"""The rule language: models and validation, reference checks, and the per-record evaluator.

The vectorised evaluator lives in ``audience.rules.vectorised`` and is not imported here, so that
the API and authorizer never load pyarrow.
"""

from audience.rules.model import (
    AllOf,
    AnyOf,
    EventCondition,
    FieldCondition,
    Not,
    PropertyCondition,
    Rule,
    RuleValidationError,
    SegmentRef,
    parse_rule,
    rule_to_json,
)
from audience.rules.record import evaluate_record, trace_record
from audience.rules.refs import dependency_order, find_cycle, referenced_segments

__all__ = [
    "AllOf",
    "AnyOf",
    "EventCondition",
    "FieldCondition",
    "Not",
    "PropertyCondition",
    "Rule",
    "RuleValidationError",
    "SegmentRef",
    "dependency_order",
    "evaluate_record",
    "trace_record",
    "find_cycle",
    "parse_rule",
    "referenced_segments",
    "rule_to_json",
]
