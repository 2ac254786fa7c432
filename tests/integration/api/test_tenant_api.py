"""GET /tenant (the console's "who am I") and CORS for the console's origin."""

from __future__ import annotations

import importlib

import pytest

CONSOLE_ORIGIN = "https://d111111abcdef8.cloudfront.net"


@pytest.fixture(scope="module")
def aws(shared_aws):
    return shared_aws


def test_the_tenant_route_names_the_callers_own_tenant_and_scopes(api_call, tenants):
    shop, shop_key = tenants("Corner Shop")
    other, other_key = tenants("Other Shop")
    mine = api_call("GET", "/tenant", api_key=shop_key)
    assert mine.status == 200
    assert mine.json["tenant_id"] == shop and mine.json["name"] == "Corner Shop"
    assert mine.json["scopes"] == ["read", "write"]
    theirs = api_call("GET", "/tenant", api_key=other_key).json
    assert theirs["tenant_id"] == other and theirs["name"] == "Other Shop"


def test_a_read_key_sees_only_its_read_scope_and_no_key_is_401(api_call, tenants):
    shop, _ = tenants("Reader Shop")
    assert api_call("GET", "/tenant", tenant=shop, scopes="read").json["scopes"] == ["read"]
    assert api_call("GET", "/tenant").status == 401


@pytest.fixture
def api_with_console_origin(monkeypatch, aws):
    """The api module as deployed: CORS_ALLOW_ORIGIN set from the template (reloaded to read it)."""
    import functions.api.app as app_module

    monkeypatch.setenv("CORS_ALLOW_ORIGIN", CONSOLE_ORIGIN)
    yield importlib.reload(app_module)
    monkeypatch.delenv("CORS_ALLOW_ORIGIN")
    importlib.reload(app_module)


def test_the_console_origin_gets_a_preflight_without_a_key_and_cors_headers_on_answers(
    api_with_console_origin, tenants
):
    from tests.integration.api.conftest import FakeLambdaContext, build_event

    shop, _ = tenants("Cors Shop")
    preflight_headers = {
        "Origin": CONSOLE_ORIGIN,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "x-api-key,if-match,content-type",
    }
    preflight = api_with_console_origin.lambda_handler(
        build_event("OPTIONS", "/segments/abc", body=None, headers=preflight_headers, query=None, authorizer=None),
        FakeLambdaContext(),
    )
    assert preflight["statusCode"] == 204
    headers = {k.lower(): ", ".join(v) for k, v in preflight["multiValueHeaders"].items()}
    assert headers["access-control-allow-origin"] == CONSOLE_ORIGIN
    assert "x-api-key" in headers["access-control-allow-headers"].lower()
    assert "if-match" in headers["access-control-allow-headers"].lower()

    authorizer = {"tenant_id": shop, "scopes": "read,write", "principalId": shop}
    answer = api_with_console_origin.lambda_handler(
        build_event("GET", "/tenant", body=None, headers={"Origin": CONSOLE_ORIGIN}, query=None, authorizer=authorizer),
        FakeLambdaContext(),
    )
    assert answer["statusCode"] == 200
    assert answer["multiValueHeaders"]["Access-Control-Allow-Origin"] == [CONSOLE_ORIGIN]

    elsewhere = api_with_console_origin.lambda_handler(
        build_event("GET", "/tenant", body=None, headers={"Origin": "https://evil.example"}, query=None,
                    authorizer=authorizer),  # fmt: skip
        FakeLambdaContext(),
    )
    assert "Access-Control-Allow-Origin" not in (elsewhere.get("multiValueHeaders") or {})
