"""/settings/suppression: the document audience.suppression applies, validated, versioned."""

from __future__ import annotations

import pytest
from audience.storage import fields_repo, suppression_repo
from audience.suppression import SuppressionPolicy


@pytest.fixture(scope="module")
def aws(shared_aws):
    """One moto world for the module: every test works in its own fresh tenants."""
    return shared_aws


@pytest.fixture
def tenant(tenants):
    return tenants("Acme")[0]


def test_a_new_tenant_has_no_suppression(api_call, tenant):
    assert api_call("GET", "/settings/suppression", tenant=tenant).json == {
        "rules": None,
        "received_at_least_never_clicked": {"enabled": False, "min_received": 1},
        "version": 0,
        "updated_at": None,
    }


def test_global_suppression_is_saved_and_applied_by_the_domain(api_call, tenant):
    body = {"received_at_least_never_clicked": {"enabled": True, "min_received": 5}}
    saved = api_call("PUT", "/settings/suppression", tenant=tenant, body=body)
    assert saved.status == 200 and saved.json["version"] == 1
    assert api_call("GET", "/settings/suppression", tenant=tenant).json[
        "received_at_least_never_clicked"
    ] == {
        "enabled": True,
        "min_received": 5,
    }
    policy = SuppressionPolicy.from_document(
        suppression_repo.get(tenant).document, fields_repo.catalog(tenant)
    )
    assert policy.min_received == 5


def test_rules_are_validated_by_the_rule_engine_with_paths(api_call, tenant):
    rule = {
        "all": [{"field": "country", "op": "eq", "value": "DE"}, {"field": "age", "op": "gt", "value": 70}]
    }
    saved = api_call("PUT", "/settings/suppression", tenant=tenant, body={"rules": rule})
    assert saved.status == 200 and saved.json["rules"] == rule
    bad = {
        "all": [{"field": "country", "op": "eq", "value": "DE"}, {"field": "age", "op": "gt", "value": "old"}]
    }
    answer = api_call("PUT", "/settings/suppression", tenant=tenant, body={"rules": bad})
    assert answer.status == 422
    assert answer.paths() == ["/rules/all/1/value"]
    unknown = api_call(
        "PUT",
        "/settings/suppression",
        tenant=tenant,
        body={"rules": {"field": "nope", "op": "eq", "value": 1}},
    )
    assert unknown.status == 422 and unknown.paths()[0].startswith("/rules")
    assert api_call("GET", "/settings/suppression", tenant=tenant).json["rules"] == rule


def test_bad_documents_are_422(api_call, tenant):
    for body, path in [
        (
            {"received_at_least_never_clicked": {"enabled": True, "min_received": 0}},
            "/received_at_least_never_clicked/min_received",
        ),
        ({"received_at_least_never_clicked": {"enabled": "yes"}}, "/received_at_least_never_clicked/enabled"),
        ({"colour": "red"}, "/colour"),
        ({"rules": [1]}, "/rules"),
    ]:
        answer = api_call("PUT", "/settings/suppression", tenant=tenant, body=body)
        assert answer.status == 422, body
        assert answer.paths() == [path]


def test_if_match_makes_the_write_conditional(api_call, tenant):
    body = {"received_at_least_never_clicked": {"enabled": True, "min_received": 2}}
    assert (
        api_call("PUT", "/settings/suppression", tenant=tenant, body=body, headers={"If-Match": "0"}).status
        == 200
    )
    stale = api_call("PUT", "/settings/suppression", tenant=tenant, body={}, headers={"If-Match": "0"})
    assert stale.status == 412
    assert api_call("GET", "/settings/suppression", tenant=tenant).json["received_at_least_never_clicked"][
        "enabled"
    ]
    fresh = api_call("PUT", "/settings/suppression", tenant=tenant, body={}, headers={"If-Match": "1"})
    assert fresh.status == 200 and fresh.json["version"] == 2
