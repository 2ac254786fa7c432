"""The fuzz harness's hooks: once they are registered, schemathesis draws the names the served
document marks with a tenant-name format from the tenant's own names, never random text."""

from __future__ import annotations

import pytest
import schemathesis
from audience.fields import BUILTIN_FIELDS
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.formats import STRING_FORMATS

from functions.api.openapi_dump import document
from tests.e2e.fuzz_hooks import register

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
