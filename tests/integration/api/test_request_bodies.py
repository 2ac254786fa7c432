"""Regression tests for every class of body the fuzzer found answered with a 500: each is a 4xx in
SPEC's error shape through the real handler, on every route that reads a body (the body is read in
one place, so a route added later is covered by construction)."""

from __future__ import annotations

import json

import pytest
from audience.storage import categories_repo

from functions.api.openapi_dump import document
from functions.api.routers.request_context import MAX_BODY_BYTES, MAX_JSON_DEPTH
from tests.integration.api.conftest import FakeLambdaContext, build_event


@pytest.fixture(scope="module")
def aws(shared_aws):
    return shared_aws


@pytest.fixture
def tenant(tenants):
    return tenants("Bodies")[0]


def body_operations() -> list[tuple[str, str]]:
    """Every (method, path) of the served document that takes a body, ids filled with ``x``."""
    found = []
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                found.append((method.upper(), path.replace("{", "").replace("}", "")))
    return sorted(found)


BODY_OPERATIONS = body_operations()


def test_every_route_with_a_body_is_covered():
    assert ("POST", "/segments") in BODY_OPERATIONS and ("POST", "/events") in BODY_OPERATIONS
    assert len(BODY_OPERATIONS) >= 18


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_a_body_that_is_not_utf8_is_400_malformed_json_on_every_route(api_call, tenant, method, path):
    answer = api_call(method, path, tenant=tenant, raw_bytes=b"\xff\xfe{}")
    assert answer.status == 400, answer.text
    assert answer.error["code"] == "malformed_json"
    assert answer.paths() == ["/"]


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_a_multipart_body_is_415_on_every_route(api_call, tenant, method, path):
    answer = api_call(method, path, tenant=tenant, raw_body="{}", headers={"Content-Type": "multipart/form-data"})
    assert answer.status == 415
    assert answer.error["code"] == "unsupported_media_type"


def test_utf8_bytes_handed_over_as_binary_are_stored_faithfully(api_call, tenant):
    name = "café ☃ 𝔘"
    answer = api_call("POST", "/categories", tenant=tenant, raw_bytes=json.dumps({"name": name}).encode())
    assert answer.status == 201
    assert [c.name for c in categories_repo.list_all(tenant)] == [name]


def test_latin1_bytes_are_refused_not_garbled(api_call, tenant):
    answer = api_call("POST", "/categories", tenant=tenant, raw_bytes='{"name": "café"}'.encode("latin-1"))
    assert answer.status == 400 and answer.error["code"] == "malformed_json"
    assert categories_repo.list_all(tenant) == []


def test_a_body_flagged_base64_that_is_not_base64_is_400(aws, tenant):
    from functions.api.app import lambda_handler

    event = build_event(
        "POST",
        "/categories",
        body="%%%",
        headers={"Content-Type": "application/json"},
        query=None,
        authorizer={"tenant_id": tenant, "scopes": "read,write", "principalId": tenant},
        is_base64=True,
    )
    result = lambda_handler(event, FakeLambdaContext())
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["error"]["code"] == "malformed_json"


def test_lone_surrogates_are_422_at_their_path_and_pairs_are_kept(api_call, tenant):
    lone = '{"name": "s", "type": "static", "topics": ["\\udb1d"]}'
    answer = api_call("POST", "/segments", tenant=tenant, raw_body=lone)
    assert answer.status == 422 and answer.paths() == ["/topics/0"]
    pair = lone.replace("\\udb1d", "\\udb1d\\udc6d")
    answer = api_call("POST", "/segments", tenant=tenant, raw_body=pair)
    assert answer.status == 201 and answer.json["topics"] == [json.loads('"\\udb1d\\udc6d"')]


def test_control_characters_are_stored_faithfully(api_call, tenant):
    name = "tab\there\u0001\u001f\u007f nul\u0000"
    answer = api_call("POST", "/segments", tenant=tenant, body={"name": "c", "type": "static", "topics": [name]})
    assert answer.status == 201
    assert api_call("GET", f"/segments/{answer.json['id']}", tenant=tenant).json["topics"] == [name]


def test_an_empty_topic_is_422_at_its_path(api_call, tenant):
    source = api_call("POST", "/segments", tenant=tenant, body={"name": "src", "type": "static"}).json["id"]
    body = {"name": "l", "topics": ["ok", ""]}
    answer = api_call("POST", f"/segments/{source}/save-as-list", tenant=tenant, body=body)
    assert answer.status == 422 and answer.paths() == ["/topics/1"]


@pytest.mark.parametrize(
    ("raw", "status", "path"),
    [
        ('{"name": "x", "description": 1e400}', 422, "/description"),
        ('{"name": "x", "description": ' + "9" * 5000 + "}", 422, "/description"),
        ('{"name": "x", "description": ' + "1" * 39 + "}", 422, "/description"),
        ('{"name": "x", "description": 1e-200}', 422, "/description"),
        ('{"name": "x", "description": NaN}', 400, "/"),
        ('{"name": "x", "description": -Infinity}', 400, "/"),
    ],
)
def test_numbers_no_store_can_hold_are_refused(api_call, tenant, raw, status, path):
    answer = api_call("POST", "/categories", tenant=tenant, raw_body=raw)
    assert answer.status == status, answer.text
    assert answer.paths() == [path]


def test_deep_nesting_is_refused_without_exhausting_the_stack(api_call, tenant):
    answer = api_call("POST", "/events", tenant=tenant, raw_body="[" * 100_000 + "]" * 100_000)
    assert answer.status == 400 and answer.error["code"] == "malformed_json"
    nested = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    answer = api_call("PUT", "/contacts/c1", tenant=tenant, raw_body='{"tags": ' + nested + "}")
    assert answer.status == 422
    assert answer.paths()[0].startswith("/tags/0/0")


def test_very_long_strings_are_422_or_413_never_500(api_call, tenant):
    answer = api_call("POST", "/categories", tenant=tenant, body={"name": "x" * 100_000})
    assert answer.status == 422 and answer.paths() == ["/name"]
    answer = api_call("POST", "/events", tenant=tenant, body={"events": [{"contact_id": "c", "event": "e" * 10_000}]})
    assert answer.status == 422
    answer = api_call("POST", "/segments", tenant=tenant, body={"name": "x" * (MAX_BODY_BYTES + 1), "type": "static"})
    assert answer.status == 413


def test_wrong_content_types_are_415(api_call, tenant):
    for content_type in ("text/plain", "application/xml", "application/octet-stream"):
        answer = api_call("POST", "/segments", tenant=tenant, raw_body="{}", headers={"Content-Type": content_type})
        assert answer.status == 415, content_type


def test_an_empty_body_is_422_required_and_a_blank_one_400(api_call, tenant):
    answer = api_call("POST", "/segments", tenant=tenant, raw_body="")
    assert answer.status == 422 and answer.paths() == ["/"]
    answer = api_call("POST", "/events", tenant=tenant)
    assert answer.status == 422
    answer = api_call("POST", "/segments", tenant=tenant, raw_body="   ")
    assert answer.status == 400 and answer.error["code"] == "malformed_json"


def test_booleans_and_times_are_not_coerced_from_numbers(api_call, tenant):
    answer = api_call("POST", "/segments", tenant=tenant, body={"name": "b", "type": "static", "public": 0})
    assert answer.status == 422 and answer.paths() == ["/public"]
    event = {"contact_id": "c1", "event": "open", "occurred_at": 0}
    answer = api_call("POST", "/events", tenant=tenant, body={"events": [event]})
    assert answer.status == 422 and answer.paths() == ["/events/0/occurred_at"]


def test_a_bare_array_of_events_is_still_one_batch(api_call, tenant):
    event = {"contact_id": "c1", "event": "open", "occurred_at": "2026-01-01T00:00:00Z"}
    answer = api_call("POST", "/events", tenant=tenant, body=[event, event])
    assert answer.status == 202 and answer.json["accepted"] == 2


def test_405_allows_exactly_the_methods_of_a_literal_path(api_call, tenant):
    answer = api_call("OPTIONS", "/segments/bulk", tenant=tenant)
    assert answer.status == 405 and answer.headers["Allow"] == "POST"


def test_an_array_sent_for_an_object_is_422_not_its_first_item(api_call, tenant):
    answer = api_call("POST", "/segments", tenant=tenant, body=[{"name": "first", "type": "static"}])
    assert answer.status == 422 and answer.paths() == ["/"]
    answer = api_call("DELETE", "/segments/abc/members", tenant=tenant, query={"all": "true"}, body=[None, None])
    assert answer.status == 422
