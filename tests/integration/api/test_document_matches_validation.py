"""The OpenAPI document says what the validation enforces (issue 19): each case schemathesis found
where schema-valid data was refused, or the document was looser than the check behind it, answered
through the real handler beside the part of the served document that now says the same thing."""

from __future__ import annotations

import re

import pytest
from audience.imports.jobs import UPLOADABLE_FILE_NAME, check_file_name

from functions.api.openapi_dump import document


@pytest.fixture(scope="module")
def aws(shared_aws):
    return shared_aws


@pytest.fixture
def tenant(tenants):
    return tenants("Document")[0]


@pytest.fixture(scope="module")
def schemas():
    return document()["components"]["schemas"]


def parameter(path: str, method: str, name: str) -> dict:
    operation = document()["paths"][path][method]
    return next(p for p in operation["parameters"] if p["name"] == name)


def test_a_whole_number_sent_as_a_float_is_the_integer_json_schema_says_it_is(api_call, tenant, schemas):
    assert schemas["EventSettings"]["properties"]["retention_days"]["type"] == "integer"
    answer = api_call("PUT", "/settings/events", tenant=tenant, body={"retention_days": 365.0})
    assert answer.status == 200 and answer.json["retention_days"] == 365
    assert isinstance(answer.json["retention_days"], int)
    for not_an_integer in (365.5, True, "365"):
        answer = api_call("PUT", "/settings/events", tenant=tenant, body={"retention_days": not_an_integer})
        assert answer.status == 422 and answer.paths() == ["/retention_days"], not_an_integer


def test_optional_priority_keeps_its_bounds_in_the_document_and_accepts_a_whole_float(api_call, tenant, schemas):
    priority = schemas["CloneRequest"]["properties"]["priority"]["anyOf"][0]
    assert (priority["type"], priority["minimum"], priority["maximum"]) == ("integer", -1_000_000, 1_000_000)
    segment = api_call("POST", "/segments", tenant=tenant, body={"name": "s", "type": "static"}).json
    answer = api_call("POST", f"/segments/{segment['id']}/clone", tenant=tenant, body={"name": "c", "priority": 7.0})
    assert answer.status == 201 and answer.json["priority"] == 7
    answer = api_call("POST", f"/segments/{segment['id']}/clone", tenant=tenant, body={"name": "d", "priority": -10**7})
    assert answer.status == 422 and answer.paths() == ["/priority"]


def test_patch_fields_that_cannot_be_cleared_are_not_nullable_in_the_document(api_call, tenant, schemas):
    patch = schemas["SegmentPatch"]["properties"]
    for name in ("name", "type", "priority", "public", "ignore_suppression"):
        assert "anyOf" not in patch[name] and "default" not in patch[name], name
    assert {"type": "null"} in patch["description"]["anyOf"]
    segment = api_call("POST", "/segments", tenant=tenant, body={"name": "p", "type": "static", "description": "d"})
    answer = api_call("PATCH", f"/segments/{segment.json['id']}", tenant=tenant, body={"ignore_suppression": None})
    assert answer.status == 422 and answer.paths() == ["/ignore_suppression"]
    answer = api_call("PATCH", f"/segments/{segment.json['id']}", tenant=tenant, body={"description": None})
    assert answer.status == 200 and answer.json["description"] is None


def test_blank_names_are_refused_as_the_documented_pattern_says(api_call, tenant, schemas):
    pattern = schemas["SegmentDraft"]["properties"]["name"]["pattern"]
    assert pattern == r"[^\s\x1c-\x1f]"
    # U+001C-U+001F: strip() takes them, so the document's pattern must not match them either (the
    # stateful fuzz phase sent reset-score a reason of "\u001c" while the pattern was \S)
    for blank in (" \t", "\u001c", "\u001f \u0085"):
        assert re.search(pattern, blank) is None
        answer = api_call("POST", "/segments", tenant=tenant, body={"name": blank, "type": "static"})
        assert answer.status == 422 and answer.paths() == ["/name"], blank
    assert re.search(schemas["ResetScoreRequest"]["properties"]["reason"]["pattern"], "\u001c ") is None
    assert re.search(pattern, "\u001cx") is not None


def test_an_empty_bare_array_of_events_is_refused_and_documented_with_min_items(api_call, tenant):
    body = document()["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    bare = next(s for s in body["anyOf"] if s.get("type") == "array" or "BareEvents" in s.get("$ref", ""))
    bare = document()["components"]["schemas"]["BareEvents"] if "$ref" in bare else bare
    assert (bare["minItems"], bare["maxItems"]) == (1, 500)
    answer = api_call("POST", "/events", tenant=tenant, body=[])
    assert answer.status == 422


def test_event_property_numbers_are_documented_with_dynamodbs_range(api_call, tenant, schemas):
    value = schemas["ActivityEvent"]["properties"]["properties"]["additionalProperties"]["anyOf"]
    number = next(s for s in value if s.get("type") == "number")
    assert {"const": 0} in number["anyOf"]
    event = {"contact_id": "c1", "event": "open", "occurred_at": "2026-01-01T00:00:00Z"}
    for stored, refused in ((0, 1e-200), (1e125, -1.7976931348623157e308)):
        ok = api_call("POST", "/events", tenant=tenant, body=[{**event, "properties": {"n": stored}}])
        assert ok.status == 202, stored
        bad = api_call("POST", "/events", tenant=tenant, body=[{**event, "properties": {"n": refused}}])
        assert bad.status == 422 and bad.paths() == ["/0/properties/n"], refused


def test_a_built_in_field_name_is_excluded_by_the_document_and_refused(api_call, tenant, schemas):
    assert "company" in schemas["FieldIn"]["properties"]["name"]["not"]["enum"]
    answer = api_call("POST", "/fields", tenant=tenant, body={"name": "company", "type": "string"})
    assert answer.status == 422 and answer.paths() == ["/name"]


@pytest.mark.parametrize(
    "name",
    ["a.csv", "A.CSV", "x.Parquet", "b.xls", "b.xlsx", "..csv", ".csv", "a.csv.txt", "a/b.csv", "a\x01.csv", "a."],
)
def test_the_documented_import_file_name_pattern_is_what_the_check_accepts(name):
    assert (re.search(UPLOADABLE_FILE_NAME, name) is not None) == (check_file_name(name) is None)


def test_reset_and_mass_update_bodies_document_their_limits(schemas):
    assert schemas["ResetScoreRequest"]["properties"]["confirm"]["const"] is True
    assert schemas["MassUpdateBody"]["properties"]["set"]["minProperties"] == 1


def test_dates_and_instants_are_documented_with_their_formats(api_call, tenant, schemas):
    assert parameter("/segments/{segment_id}/stats", "get", "from")["schema"]["format"] == "date"
    since = parameter("/segments/{segment_id}/history", "get", "since")["schema"]["anyOf"][0]
    assert since["anyOf"] == [{"format": "date"}, {"format": "date-time"}]
    added = schemas["ExportBody"]["properties"]["added_since"]["anyOf"][0]
    assert added["anyOf"] == [{"format": "date"}, {"format": "date-time"}]
    segment = api_call("POST", "/segments", tenant=tenant, body={"name": "h", "type": "static"}).json
    answer = api_call("GET", f"/segments/{segment['id']}/history", tenant=tenant, query={"since": ""})
    assert answer.status == 422 and answer.paths() == ["?since"]


def test_import_regions_are_an_enum_in_the_document(schemas):
    region = schemas["ImportRequest"]["properties"]["default_region"]["anyOf"][0]
    assert {"US", "us", "DE"} <= set(region["enum"])
