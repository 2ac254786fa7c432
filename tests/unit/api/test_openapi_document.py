"""The served OpenAPI document says what the API answers: SPEC's error shape on every operation,
no body on a 204, and links from each create to the operations that take its id."""

from __future__ import annotations

import pytest

from functions.api.openapi_document import finish
from functions.api.openapi_dump import document


@pytest.fixture(scope="module")
def doc():
    return document()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_operation_documents_spec_errors_and_no_powertools_shape(doc):
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for method, path, operation in operations(doc):
        for status in ("400", "401", "403", "404", "422"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
        if "requestBody" in operation:
            assert {"413", "415"} <= set(operation["responses"]), (method, path)


def test_a_204_has_no_content(doc):
    empty = [op["responses"]["204"] for _, _, op in operations(doc) if "204" in op["responses"]]
    assert empty and all("content" not in response for response in empty)


@pytest.mark.parametrize(
    ("method", "path", "status", "target"),
    [
        ("post", "/segments", "201", "/segments/{segment_id}"),
        ("post", "/campaigns", "201", "/campaigns/{campaign_id}"),
        ("post", "/categories", "201", "/categories/{name}"),
        ("put", "/contacts/{contact_id}", "201", "/contacts/{contact_id}"),
        ("post", "/imports", "201", "/imports/{job_id}"),
        ("post", "/segments/{segment_id}/exports", "202", "/exports/{job_id}"),
        ("post", "/segments/{segment_id}/exports", "202", "/jobs/{job_id}"),
    ],
)
def test_creates_link_to_the_operations_that_use_their_id(doc, method, path, status, target):
    links = doc["paths"][path][method]["responses"][status]["links"]
    targets = {op["operationId"] for m, op in doc["paths"][target].items() if (target, m) != (path, method)}
    assert targets <= set(links)
    parameter = target.rsplit("{", 1)[1].rstrip("}")
    assert all(f"path.{parameter}" in links[t]["parameters"] for t in targets)


def test_links_reach_routes_added_later_by_prefix():
    generated = {
        "paths": {
            "/fields": {"post": {"operationId": "create_field", "responses": {"201": {"description": "ok"}}}},
            "/fields/{name}": {"get": {"operationId": "read_field", "responses": {"200": {"description": "ok"}}}},
        }
    }
    links = finish(generated)["paths"]["/fields"]["post"]["responses"]["201"]["links"]
    assert links["read_field"]["parameters"] == {"path.name": "$response.body#/name"}


@pytest.mark.parametrize(
    ("path", "status"),
    [("/segments", "201"), ("/segments/{segment_id}/clone", "201"), ("/segments/{segment_id}/save-as-list", "201")],
)
def test_a_link_to_put_a_segment_carries_the_new_segments_type_and_rules_into_the_body(doc, path, status):
    # PUT keeps the segment's type and checks the rules against it: a link that only names the id
    # leaves the stateful fuzz phase drawing the other type, or rules a static segment cannot have
    link = doc["paths"][path]["post"]["responses"][status]["links"]["replace_segments__segment_id__put"]
    assert link["requestBody"] == {"type": "$response.body#/type", "rules": "$response.body#/rules"}
    assert link["parameters"] == {"path.segment_id": "$response.body#/id"}
    other = doc["paths"][path]["post"]["responses"][status]["links"]["patch_segments__segment_id__patch"]
    assert "requestBody" not in other


def test_post_events_documents_its_body_and_202(doc):
    operation = doc["paths"]["/events"]["post"]
    assert "requestBody" in operation and "202" in operation["responses"]
