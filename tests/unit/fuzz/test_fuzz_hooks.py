"""The fuzz harness's hooks: once they are registered, schemathesis draws the names the served
document marks with a tenant-name format from the tenant's own names, never random text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from audience.exports.request import ExportBody
from audience.fields import BUILTIN_FIELDS
from audience.rules.model import parse_instant
from audience.trust.history import parse_since
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.formats import STRING_FORMATS

from functions.api.openapi_dump import document
from tests.e2e.fuzz_hooks import DATES_OR_DATE_TIMES, register

PROJECT_ROOT = Path(__file__).resolve().parents[3]

NAMES = {
    "segment-id": ["seg-a", "seg-b"],
    "contact-id": ["c-1", "c-2", "c-3"],
    "field-name": ["age", "plan"],
    "category-name": ["lifecycle"],
}


@pytest.fixture
def hooks():
    register(NAMES)
    yield
    for kind in NAMES:
        STRING_FORMATS.pop(kind, None)


def bodies(path: str, method: str, count: int = 40) -> list[dict]:
    operation = schemathesis.openapi.from_dict(document())[path][method]
    drawn: list[dict] = []

    @settings(max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy())
    def collect(case):
        drawn.append(case.body)

    collect()
    return drawn


def test_campaign_segments_transfer_targets_and_contacts_come_from_the_tenant(hooks):
    campaigns = bodies("/campaigns", "POST")
    assert campaigns and all(set(body["segment_ids"]) <= set(NAMES["segment-id"]) for body in campaigns)
    transfers = bodies("/segments/{segment_id}/transfer", "POST")
    assert all(body["to"] in NAMES["segment-id"] for body in transfers)
    assert all(set(body["contact_ids"]) <= set(NAMES["contact-id"]) for body in transfers)


def test_bulk_splits_a_field_of_the_tenant_and_rule_conditions_name_its_fields(hooks):
    bulk = bodies("/segments/bulk", "POST")
    assert bulk and all(body["field"] in NAMES["field-name"] for body in bulk)
    conditions = []

    def walk(rule):
        if isinstance(rule, dict):
            if "field" in rule and "op" in rule and "event" not in rule:
                conditions.append(rule["field"])
            for key in ("all", "any"):
                for child in rule.get(key) or []:
                    walk(child)
            walk(rule.get("not"))

    for body in bodies("/segments/preview", "POST", count=60):
        walk(body["rules"])
    # the rule schema's per-type operators name the built-in fields themselves
    assert conditions and set(conditions) <= set(NAMES["field-name"]) | set(BUILTIN_FIELDS)


@settings(max_examples=300, deadline=None, database=None)
@given(DATES_OR_DATE_TIMES)
def test_every_instant_the_hooks_draw_is_one_the_service_takes(text):
    parse_instant(text)  # a rule's date or date-time value
    assert ExportBody.model_validate({"format": "csv", "added_since": text}).added_since.endswith("Z")
    assert parse_since(text, "?since").tzinfo is not None


def test_instants_are_drawn_through_their_own_format_not_an_any_of_of_two():
    """schemathesis builds "invalid" data by breaking one branch of an ``anyOf``: a date-time that broke
    ``format: date`` was sent as invalid and its acceptance counted as a fault (seed 9)."""
    drawn = bodies("/segments/{segment_id}/exports", "POST", count=60)
    since = [body["added_since"] for body in drawn if isinstance(body, dict) and body.get("added_since")]
    assert since
    for text in since:
        assert ExportBody.model_validate({"format": "csv", "added_since": text})
    rule_schema = json.loads((PROJECT_ROOT / "shared" / "schemas" / "rule.schema.json").read_text())
    assert '"format": "date-or-date-time"' in json.dumps(rule_schema) and '"format": "date"}' not in json.dumps(
        rule_schema)
