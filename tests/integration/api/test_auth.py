"""Keys through the real authorizer, as API Gateway applies its policy; the app's own checks behind it."""

from __future__ import annotations

import pytest
from audience.storage import tenants_repo
from audience.tenants import create_api_key, resolve_api_key


@pytest.fixture(scope="module")
def aws(shared_aws):
    """One moto world for the module: every test works in its own fresh tenants."""
    return shared_aws


def test_a_write_key_may_read_and_write(api_call, tenants):
    _, key = tenants("Acme")
    assert api_call("POST", "/categories", api_key=key, body={"name": "lifecycle"}).status == 201
    assert api_call("GET", "/categories", api_key=key).json["items"][0]["name"] == "lifecycle"


def test_the_header_name_is_case_insensitive(api_call, tenants):
    _, key = tenants("Acme")
    assert api_call("GET", "/fields", headers={"x-api-key": key}, api_key=None, tenant=None).status == 401
    from tests.integration.api.conftest import authorize

    for header in ("x-api-key", "X-API-KEY", "X-Api-Key"):
        context = authorize(None, "GET", "/fields", {header: key})
        assert isinstance(context, dict) and context["scopes"] == "read,write"


def test_no_key_malformed_key_and_unknown_key_are_401(api_call, tenants):
    tenant, key = tenants("Acme")
    for bad in (
        "",
        "nonsense",
        key[:-4] + "AAAA",
        f"sk_{tenant}_" + "x" * 40,
        "sk_other-tenant_" + key[-43:],
    ):
        answer = api_call("GET", "/fields", api_key=bad)
        assert answer.status == 401, bad
        assert answer.error["code"] == "unauthorized"


def test_a_revoked_key_stops_working_at_once(api_call, tenants):
    tenant, key = tenants("Acme")
    assert api_call("GET", "/fields", api_key=key).status == 200
    assert tenants_repo.revoke_key(tenant, key)
    assert api_call("GET", "/fields", api_key=key).status == 401
    assert resolve_api_key(key) is None


def test_a_read_key_may_get_but_every_other_method_is_403(api_call, tenants):
    tenant, _ = tenants("Acme")
    read_key = create_api_key(tenant, "read")
    assert api_call("GET", "/categories", api_key=read_key).status == 200
    for method, path in [
        ("POST", "/categories"),
        ("DELETE", "/contacts/c1"),
        ("PUT", "/contacts/c1"),
        ("PATCH", "/campaigns/x"),
    ]:
        answer = api_call(method, path, api_key=read_key, body={"name": "x"})
        assert answer.status == 403, (method, path)
        assert answer.error["code"] == "forbidden"


def test_keys_are_stored_only_as_hashes(tenants, dynamodb, aws):
    tenant, key = tenants("Acme")
    items = dynamodb.scan(TableName=aws.name("MainTable"))["Items"]
    assert items
    assert key not in str(items)
    assert key.startswith(f"sk_{tenant}_")


def test_the_app_answers_401_without_an_authorizer_context(api_call):
    answer = api_call("GET", "/categories")
    assert answer.status == 401
    assert answer.error["code"] == "unauthorized"


def test_the_app_enforces_the_read_scope_itself(api_call, tenants):
    tenant, _ = tenants("Acme")
    answer = api_call("POST", "/categories", tenant=tenant, scopes="read", body={"name": "x"})
    assert answer.status == 403
    assert api_call("GET", "/categories", tenant=tenant, scopes="read").status == 200


def test_the_tenant_comes_only_from_the_authorizer(api_call, tenants):
    tenant_a, _ = tenants("Acme")
    tenant_b, _ = tenants("Globex")
    assert api_call("POST", "/categories", tenant=tenant_a, body={"name": "only-a"}).status == 201
    sneaky = api_call(
        "GET",
        "/categories",
        tenant=tenant_b,
        headers={"X-Tenant-Id": tenant_a},
        query={"tenant_id": tenant_a},
    )
    assert sneaky.status == 200
    assert sneaky.json["items"] == []


def test_openapi_and_docs_need_no_key(api_call):
    document = api_call("GET", "/openapi.json")
    assert document.status == 200
    assert document.json["openapi"].startswith("3.")
    assert "/contacts/{contact_id}" in document.json["paths"]
    assert document.json["components"]["securitySchemes"]["apiKey"]["name"] == "X-Api-Key"
    docs = api_call("GET", "/docs")
    assert docs.status == 200
    assert "swagger" in docs.text.lower()


def test_the_swagger_ui_shows_the_same_finished_document_as_openapi_json(api_call):
    served = api_call("GET", "/openapi.json").json
    embedded = api_call("GET", "/docs", query={"format": "json"}).json
    assert embedded == served
    assert "links" in served["paths"]["/segments"]["post"]["responses"]["201"]
    page = api_call("GET", "/docs").text
    assert "uri_too_long" in page and '"links"' in page


def test_a_read_key_on_a_write_method_gets_an_explicit_deny_for_that_method(tenants):
    from functions.authorizer.app import lambda_handler
    from tests.integration.api.conftest import FakeLambdaContext, method_arn

    tenant, _ = tenants("Acme")
    read_key = create_api_key(tenant, "read")
    event = {
        "type": "REQUEST",
        "methodArn": method_arn("DELETE", "/contacts/c1"),
        "httpMethod": "DELETE",
        "path": "/contacts/c1",
        "headers": {"X-API-KEY": read_key},
    }
    policy = lambda_handler(event, FakeLambdaContext(function_name="authorizer"))
    effects = {s["Effect"]: s["Resource"] for s in policy["policyDocument"]["Statement"]}
    assert effects["Deny"] == [method_arn("DELETE", "/*")]
    assert effects["Allow"] == [method_arn("GET", "/*")]
    assert policy["context"] == {"tenant_id": tenant, "scopes": "read"}
    assert policy["principalId"] == tenant
