"""The committed JSON Schema of the rule language is generated from the models, and it agrees with
`parse_rule` on what a rule may look like (for everything a schema can express)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audience.fields import DEFAULT_CATALOG
from audience.rules import RuleValidationError, parse_rule
from audience.rules.schema import main, render, rule_json_schema
from jsonschema import Draft202012Validator

COMMITTED = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "rule.schema.json"

VALID = [
    {"field": "email", "op": "ends_with", "value": "@gmail.com"},
    {"field": "age", "op": "between", "value": [18, 65]},
    {"field": "subscribed", "op": "is_true"},
    {"field": "tags", "op": "has_any", "value": ["vip"]},
    {"field": "created_at", "op": "within_last_days", "value": 30},
    {"field": "expected_purchase_date", "op": "between", "value": ["2024-01-01", "2024-12-31T23:59:59Z"]},
    {"not": {"any": [{"segment": "abc"}, {"field": "country", "op": "in", "value": ["US", "CA"]}]}},
    {"event": "purchase"},
    {"event": "purchase", "within_last_days": 90, "where": [{"field": "sku", "op": "in", "value": [1, 2]}],
     "aggregate": {"fn": "sum", "field": "amount", "op": "gte", "value": 100}},
    {"event": "email_open", "aggregate": {"fn": "last_at", "op": "more_than_days_ago", "value": 30}},
]

INVALID = [
    {"field": "age", "op": "contains", "value": "1"},  # operator not valid for number
    {"field": "age", "op": "gt", "value": "18"},  # wrong value type
    {"field": "subscribed", "op": "is_true", "value": True},  # unary takes no value
    {"field": "email", "op": "eq"},  # value missing
    {"field": "tags", "op": "has_any", "value": []},  # empty list
    {"field": "age", "op": "between", "value": [1]},
    {"all": []},
    {"any": [{"field": "email", "op": "is_empty"}], "extra": 1},
    {"event": "x", "within_last_days": -1},
    {"event": "x", "aggregate": {"fn": "sum", "op": "gte", "value": 1}},  # sum needs a field
    {"event": "x", "aggregate": {"fn": "count", "field": "amount"}},  # count takes no field
    {"event": "x", "aggregate": {"fn": "last_at", "op": "gte", "value": 1}},  # number op on an instant
    {"event": "x", "where": [{"field": "amount", "op": "gt", "value": "5"}]},
    {"segment": ""},
    {"field": "created_at", "op": "within_last_days", "value": 1.5},
]


@pytest.fixture(scope="module")
def validator():
    schema = rule_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_committed_schema_is_up_to_date():
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "shared/schemas/rule.schema.json is stale: run `make schemas`"
    )


def test_schema_cli_writes_the_file(tmp_path):
    out = tmp_path / "nested" / "rule.schema.json"
    assert main([str(out)]) == 0
    assert json.loads(out.read_text()) == rule_json_schema()
    assert main([]) == 2


@pytest.mark.parametrize("rule", VALID, ids=range(len(VALID)))
def test_rules_the_parser_accepts_validate_against_the_schema(validator, rule):
    parse_rule(rule, DEFAULT_CATALOG)
    assert list(validator.iter_errors(rule)) == []


@pytest.mark.parametrize("rule", INVALID, ids=range(len(INVALID)))
def test_rules_the_schema_rejects_the_parser_rejects_too(validator, rule):
    assert list(validator.iter_errors(rule)) != []
    with pytest.raises(RuleValidationError):
        parse_rule(rule, DEFAULT_CATALOG)
