"""Every rule of the table tests (all operators of all types, activity, references) validates against
the committed JSON Schema, so the schema never refuses a rule the service accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agreement import CATALOG, example_rules
from audience.rules import parse_rule
from jsonschema import Draft202012Validator

COMMITTED = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "rule.schema.json"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("rule", example_rules())
def test_every_table_rule_validates_against_the_committed_schema(validator, rule):
    parse_rule(rule, CATALOG)
    assert [error.message for error in validator.iter_errors(rule)] == []
