"""/fields and /categories."""

from __future__ import annotations

import pytest
from audience.fields import BUILTIN_FIELDS
from audience.storage import segments_repo


@pytest.fixture(scope="module")
def aws(shared_aws):
    """One moto world for the module: every test works in its own fresh tenants."""
    return shared_aws


@pytest.fixture
def tenant(tenants):
    return tenants("Acme")[0]


def test_the_catalog_lists_builtins_then_custom_fields(api_call, tenant):
    assert api_call(
        "POST", "/fields", tenant=tenant, body={"name": "tier", "type": "string", "label": "Tier"}
    ).status
    items = api_call("GET", "/fields", tenant=tenant).json["items"]
    assert [f["name"] for f in items[: len(BUILTIN_FIELDS)]] == list(BUILTIN_FIELDS)
    assert items[-1] == {
        "name": "tier",
        "type": "string",
        "builtin": False,
        "read_only": False,
        "label": "Tier",
        "created_at": items[-1]["created_at"],
    }
    assert next(f for f in items if f["name"] == "created_at")["read_only"] is True


def test_custom_field_rules(api_call, tenant):
    clash = api_call("POST", "/fields", tenant=tenant, body={"name": "email", "type": "string"})
    assert clash.status == 422 and clash.paths() == ["/name"]
    assert api_call(
        "POST", "/fields", tenant=tenant, body={"name": "Bad Name", "type": "string"}
    ).paths() == ["/name"]
    assert api_call("POST", "/fields", tenant=tenant, body={"name": "ok", "type": "colour"}).paths() == [
        "/type"
    ]
    assert api_call("POST", "/fields", tenant=tenant, body={"name": "ok", "type": "number"}).status == 201
    duplicate = api_call("POST", "/fields", tenant=tenant, body={"name": "ok", "type": "string"})
    assert duplicate.status == 409


def test_categories_create_list_delete(api_call, tenant):
    assert (
        api_call("POST", "/categories", tenant=tenant, body={"name": "lifecycle", "description": "d"}).status
        == 201
    )
    assert api_call("POST", "/categories", tenant=tenant, body={"name": "lifecycle"}).status == 409
    assert [c["name"] for c in api_call("GET", "/categories", tenant=tenant).json["items"]] == ["lifecycle"]
    assert api_call("DELETE", "/categories/lifecycle", tenant=tenant).status == 204
    assert api_call("DELETE", "/categories/lifecycle", tenant=tenant).status == 404
    assert api_call("GET", "/categories", tenant=tenant).json["items"] == []


def test_a_category_in_use_cannot_be_deleted(api_call, tenant):
    api_call("POST", "/categories", tenant=tenant, body={"name": "tiers"})
    segment = segments_repo.create(tenant, name="Gold", type="static", category="tiers")
    answer = api_call("DELETE", "/categories/tiers", tenant=tenant)
    assert answer.status == 409
    assert segment.id in answer.error["details"][0]["message"]
    segments_repo.delete(tenant, segment.id)
    assert api_call("DELETE", "/categories/tiers", tenant=tenant).status == 204


@pytest.mark.parametrize("name", ["", "   ", "a/b", "x" * 101, "tab\tname"])
def test_bad_category_names_are_422(api_call, tenant, name):
    assert api_call("POST", "/categories", tenant=tenant, body={"name": name}).paths() == ["/name"]
