"""Every failure in SPEC's error shape, with the right status and never a 500 for caller mistakes."""

from __future__ import annotations

import sys

import pytest
from audience.storage import categories_repo

from functions.api import errors as api_errors
from functions.api.routers.request_context import MAX_BODY_BYTES


@pytest.fixture(scope="module")
def aws(shared_aws):
    """One moto world for the module: every test works in its own fresh tenants."""
    return shared_aws


@pytest.fixture
def tenant(tenants):
    return tenants("Acme")[0]


def test_malformed_json_is_400(api_call, tenant):
    for raw in ("{", "{'a': 1}", "[1,", "nul", '{"name": "x"} trailing'):
        answer = api_call("POST", "/categories", tenant=tenant, raw_body=raw)
        assert answer.status == 400, raw
        assert answer.error["code"] == "malformed_json"
    answer = api_call("PUT", "/contacts/c1", tenant=tenant, raw_body="{not json")
    assert answer.status == 400


def test_a_body_over_the_cap_is_413_before_anything_is_read(api_call, tenant):
    answer = api_call("POST", "/categories", tenant=tenant, raw_body='{"name": "' + "x" * MAX_BODY_BYTES + '"}')
    assert answer.status == 413
    assert answer.error["code"] == "too_large"
    assert categories_repo.list_all(tenant) == []


def test_wrong_types_and_unknown_properties_are_422_with_paths(api_call, tenant):
    answer = api_call("POST", "/categories", tenant=tenant, body={"name": ["x"], "colour": "red"})
    assert answer.status == 422
    assert sorted(answer.paths()) == ["/colour", "/name"]
    answer = api_call("POST", "/categories", tenant=tenant, body=[1, 2])
    assert answer.status == 422
    answer = api_call("POST", "/categories", tenant=tenant)
    assert answer.status == 422


def test_bad_query_parameters_are_422_named_with_a_question_mark(api_call, tenant):
    for limit in (0, 501, "ten"):
        answer = api_call("GET", "/contacts", tenant=tenant, query={"limit": limit})
        assert answer.status == 422
        assert answer.paths() == ["?limit"]


def test_unknown_routes_are_404_and_wrong_methods_405(api_call, tenant):
    answer = api_call("GET", "/no/such/thing", tenant=tenant)
    assert answer.status == 404
    assert answer.error["code"] == "not_found"
    answer = api_call("DELETE", "/fields", tenant=tenant)
    assert answer.status == 405
    assert answer.headers["Allow"] == "GET, POST"
    answer = api_call("POST", "/contacts/c1", tenant=tenant, body={})
    assert answer.status == 405
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "PUT", "DELETE"}


def test_a_non_json_content_type_is_415(api_call, tenant):
    answer = api_call("POST", "/categories", tenant=tenant, raw_body="name=x", headers={"Content-Type": "text/plain"})
    assert answer.status == 415
    assert answer.error["code"] == "unsupported_media_type"


def test_a_json_body_labelled_as_a_form_is_read_as_json(api_call, tenant):
    """What ``curl -d '{...}'`` sends without ``-H 'Content-Type: application/json'``."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = api_call("POST", "/categories", tenant=tenant, raw_body='{"name": "curl"}', headers=form)
    assert answer.status == 201 and answer.json["name"] == "curl"
    answer = api_call("POST", "/categories", tenant=tenant, raw_body="name=curl", headers=form)
    assert answer.status == 400 and answer.error["code"] == "malformed_json"


def test_odd_unicode_is_stored_and_returned_intact(api_call, tenant):
    name = "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃ ‮rtl‬ 中文"
    assert api_call("POST", "/categories", tenant=tenant, body={"name": name}).status == 201
    assert api_call("GET", "/categories", tenant=tenant).json["items"][0]["name"] == name
    answer = api_call("PUT", "/contacts/%F0%9F%98%80", tenant=tenant, body={"first_name": "\u0000"})
    assert answer.status in (200, 201, 422)
    answer = api_call("POST", "/categories", tenant=tenant, raw_body='{"name": "bad \\ud800"}')
    assert answer.status == 422 and answer.paths() == ["/name"]
    answer = api_call("PUT", "/contacts/c1", tenant=tenant, raw_body='{"tags": ["ok", "\\udfff"]}')
    assert answer.status == 422 and answer.paths() == ["/tags/1"]


def test_a_bad_if_match_is_400(api_call, tenant):
    answer = api_call("PUT", "/settings/suppression", tenant=tenant, body={}, headers={"If-Match": "soon"})
    assert answer.status == 400
    assert answer.paths() == ["If-Match"]


def test_a_genuine_fault_is_a_logged_500_that_reveals_nothing(api_call, tenant, monkeypatch):
    def broken(_tenant):
        raise RuntimeError("disk on fire at /var/secret/path")

    logged = []
    monkeypatch.setattr(api_errors.logger, "exception", lambda message, **kw: logged.append(sys.exc_info()[1]))
    monkeypatch.setattr(categories_repo, "list_all", broken)
    answer = api_call("GET", "/categories", tenant=tenant)
    assert answer.status == 500
    assert answer.error["code"] == "internal_error"
    assert "secret" not in answer.text
    assert [str(e) for e in logged] == ["disk on fire at /var/secret/path"]


def test_ids_no_item_can_have_are_404_without_reaching_dynamodb(api_call, tenant):
    for path in ("/campaigns/" + "x" * 2000, "/contacts/" + "x" * 2000, "/segments/" + "x" * 2000):
        assert api_call("GET", path, tenant=tenant).status == 404, path
    assert api_call("DELETE", "/categories/" + "x" * 2000, tenant=tenant).status == 404
    assert api_call("PATCH", "/campaigns/" + "x" * 2000, tenant=tenant, body={"name": "x"}).status == 404
