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
    assert pattern == r"[^\s\x1c-\x1f\x85]"
    # U+001C-U+001F: strip() takes them, so the document's pattern must not match them either (the
    # stateful fuzz phase sent reset-score a reason of "\u001c" while the pattern was \S)
    for blank in (" \t", "\u001c", "\u001f \u0085", "\u0085"):
        assert re.search(pattern, blank) is None
        answer = api_call("POST", "/segments", tenant=tenant, body={"name": blank, "type": "static"})
        assert answer.status == 422 and answer.paths() == ["/name"], blank
    assert re.search(schemas["ResetScoreRequest"]["properties"]["reason"]["pattern"], "\u001c ") is None
    assert re.search(pattern, "\u001cx") is not None
    # the document's dialect is ECMA-262, whose \s leaves out U+0085 (and U+001C-U+001F), which strip() takes
    ecma = pattern.replace(r"\s", "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")
    for blank in ("\u0085", "\u001c", " \u0085\u001f"):
        assert re.search(ecma, blank) is None, blank


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
    for stored, refused in ((0, 1e-200), (1e125, -1.7976931348623157e308), (-9.99999999999999e125, -1e126)):
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
    assert since["format"] == "date-or-date-time" and "anyOf" not in since
    added = schemas["ExportBody"]["properties"]["added_since"]["anyOf"][0]
    assert added["format"] == "date-or-date-time" and "anyOf" not in added
    segment = api_call("POST", "/segments", tenant=tenant, body={"name": "h", "type": "static"}).json
    answer = api_call("GET", f"/segments/{segment['id']}/history", tenant=tenant, query={"since": ""})
    assert answer.status == 422 and answer.paths() == ["?since"]


def test_import_regions_are_an_enum_in_the_document(schemas):
    region = schemas["ImportRequest"]["properties"]["default_region"]["anyOf"][0]
    assert {"US", "us", "DE"} <= set(region["enum"])


def _resolved(schema: dict, schemas: dict) -> dict:
    return schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema


def test_every_body_rule_is_the_rule_language_schema_and_what_it_refuses_the_service_refuses(
    api_call, tenant, schemas
):
    from jsonschema import Draft202012Validator

    for model, name in (("PreviewRequest", "rules"), ("ChangeRequest", "rules"), ("SegmentDraft", "rules"),
                        ("BulkRequest", "rules"), ("SuppressionIn", "rules")):  # fmt: skip
        rules = schemas[model]["properties"][name]
        assert "#/components/schemas/Rule" in [s.get("$ref") for s in [rules, *rules.get("anyOf", [])]], model
    assert schemas["RuleAllOf"]["properties"]["all"]["items"]["anyOf"][0] == {"$ref": "#/components/schemas/RuleAllOf"}
    validator = Draft202012Validator({**schemas["Rule"], "components": {"schemas": schemas}})
    # found by make fuzz once the rule was in the document: a null aggregate field (count takes none)
    # is taken, and more children than conditions allowed is not
    taken = {"event": "open", "aggregate": {"fn": "count", "field": None}}
    refused = [
        {"event": "open", "aggregate": {"fn": "sum", "field": None}},
        {"event": "open", "aggregate": {"fn": "count", "field": "amount"}},
        {"any": [{"field": "age", "op": "gt", "value": n} for n in range(101)]},
        {"event": "open", "where": [{"field": "n", "op": "gt", "value": n} for n in range(100)]},
    ]
    assert list(validator.iter_errors(taken)) == []
    assert api_call("POST", "/segments/preview", tenant=tenant, body={"rules": taken}).status == 200
    for rule in refused:
        assert list(validator.iter_errors(rule)) != [], rule
        answer = api_call("POST", "/segments/preview", tenant=tenant, body={"rules": rule})
        assert answer.status == 422 and all(p.startswith("/rules") for p in answer.paths()), rule


def test_names_of_the_tenant_carry_their_format_and_an_unknown_one_is_refused(api_call, tenant, schemas):
    def items(model: str, name: str) -> dict:
        return _resolved(schemas[model]["properties"][name], schemas)

    assert items("CampaignIn", "segment_ids")["items"]["format"] == "segment-id"
    assert items("TransferRequest", "to")["format"] == "segment-id"
    assert items("TransferRequest", "contact_ids")["items"]["format"] == "contact-id"
    assert items("SegmentDraft", "category")["anyOf"][0]["format"] == "category-name"
    bulk_field = items("BulkRequest", "field")
    assert bulk_field["format"] == "field-name" and bulk_field["not"] == {"const": "contact_id"}
    assert schemas["RuleFieldCondition"]["properties"]["field"]["format"] == "field-name"
    assert schemas["RuleSegmentRef"]["properties"]["segment"]["format"] == "segment-id"
    answer = api_call("POST", "/segments/bulk", tenant=tenant, body={"field": "contact_id"}, query={"dry_run": "true"})
    assert answer.status == 422 and answer.paths() == ["/field"]
    answer = api_call("POST", "/campaigns", tenant=tenant, body={"name": "c", "segment_ids": ["nope"]})
    assert answer.status == 422 and answer.paths() == ["/segment_ids/0"]


def test_campaign_instants_are_date_time_text_as_documented_not_epoch_seconds(api_call, tenant, schemas):
    assert schemas["CampaignIn"]["properties"]["start_at"]["anyOf"][0] == {"type": "string", "format": "date-time"}
    segment = api_call("POST", "/segments", tenant=tenant, body={"name": "a", "type": "static", "public": True}).json
    body = {"name": "c", "segment_ids": [segment["id"]], "end_at": "2000-01-01T00:00:00Z"}
    answer = api_call("POST", "/campaigns", tenant=tenant, body={**body, "start_at": 0})
    assert answer.status == 422 and answer.paths() == ["/start_at"]
    answer = api_call("POST", "/campaigns", tenant=tenant, body={**body, "start_at": "1999-12-31T00:00:00+01:00"})
    assert answer.status == 201 and answer.json["start_at"] == "1999-12-30T23:00:00.000Z"


def test_mass_update_documents_each_settable_built_in_field_with_its_type(api_call, tenant, schemas):
    changes = schemas["MassUpdateBody"]["properties"]["set"]
    assert changes["properties"]["subscribed"]["anyOf"] == [{"type": "boolean"}, {"type": "null"}]
    assert changes["properties"]["tags"]["anyOf"][0]["items"]["type"] == "string"
    assert {"email", "phone", "contact_id", "created_at"} <= set(changes["propertyNames"]["not"]["enum"])
    assert "email" not in changes["properties"]
    segment = api_call("POST", "/segments", tenant=tenant, body={"name": "m", "type": "static"}).json
    path = f"/segments/{segment['id']}/mass-update"
    answer = api_call("POST", path, tenant=tenant, body={"set": {"subscribed": "yes", "email": "a@b.c"}})
    assert answer.status == 422 and sorted(answer.paths()) == ["/set/email", "/set/subscribed"]
    answer = api_call("POST", path, tenant=tenant, body={"set": {"subscribed": False, "tags": ["a"], "age": None}})
    assert answer.status == 202


def _body_validator(model: str, schemas: dict):
    from jsonschema import Draft202012Validator

    return Draft202012Validator({**schemas[model], "components": {"schemas": schemas}})


def test_a_segments_rules_follow_its_type_in_the_document_as_the_service_refuses_them(api_call, tenant, schemas):
    draft = _body_validator("SegmentDraft", schemas)
    rule = {"field": "age", "op": "gte", "value": 30}
    for body in ({"name": "s", "type": "static", "rules": rule}, {"name": "d", "type": "dynamic"},
                 {"name": "d", "type": "dynamic", "rules": None}):  # fmt: skip
        assert list(draft.iter_errors(body)) != [], body
        answer = api_call("POST", "/segments", tenant=tenant, body=body)
        assert answer.status == 422 and answer.paths() == ["/rules"], body
    for body in ({"name": "s", "type": "static"}, {"name": "s", "type": "static", "rules": None},
                 {"name": "d", "type": "dynamic", "rules": rule}):  # fmt: skip
        assert list(draft.iter_errors(body)) == [], body
        assert api_call("POST", "/segments", tenant=tenant, body=body).status == 201, body


def test_put_may_leave_out_the_type_which_never_changes_and_the_rules_must_fit_the_segments_own(
    api_call, tenant, schemas
):
    # make fuzz warned "schema validation mismatch" on PUT: a drawn body named the other type half the time
    replacement = _body_validator("SegmentReplacement", schemas)
    assert "type" not in schemas["SegmentReplacement"]["required"]
    rule = {"field": "age", "op": "gte", "value": 30}
    static = api_call("POST", "/segments", tenant=tenant, body={"name": "s", "type": "static", "priority": 3}).json
    dynamic = api_call("POST", "/segments", tenant=tenant, body={"name": "d", "type": "dynamic", "rules": rule}).json

    answer = api_call("PUT", f"/segments/{static['id']}", tenant=tenant, body={"name": "s2"})
    assert answer.status == 200 and (answer.json["type"], answer.json["name"]) == ("static", "s2")
    assert answer.json["priority"] == 0  # replaced: what the body leaves out takes its default
    changed = {"field": "age", "op": "lt", "value": 18}
    answer = api_call("PUT", f"/segments/{dynamic['id']}", tenant=tenant, body={"name": "d2", "rules": changed})
    assert answer.status == 200 and (answer.json["type"], answer.json["rules"]) == ("dynamic", changed)
    body = {"name": "d3", "type": "dynamic", "rules": rule}
    answer = api_call("PUT", f"/segments/{dynamic['id']}", tenant=tenant, body=body)
    assert answer.status == 200 and answer.json["version"] == 3

    # a type given is checked; the rules must fit the segment's own type; null is no type
    body = {"name": "x", "type": "dynamic", "rules": rule}
    answer = api_call("PUT", f"/segments/{static['id']}", tenant=tenant, body=body)
    assert answer.status == 422 and answer.paths() == ["/type"]
    for segment, body in ((static, {"name": "x", "rules": rule}), (dynamic, {"name": "x"})):
        assert list(replacement.iter_errors(body)) == []  # the document cannot know the segment's type
        answer = api_call("PUT", f"/segments/{segment['id']}", tenant=tenant, body=body)
        assert answer.status == 422 and answer.paths() == ["/rules"], body
    answer = api_call("PUT", f"/segments/{static['id']}", tenant=tenant, body={"name": "x", "type": None})
    assert answer.status == 422 and answer.paths() == ["/type"]
    assert list(replacement.iter_errors({"name": "x", "type": None})) != []
    assert list(replacement.iter_errors({"name": "x", "type": "static", "rules": rule})) != []


def test_whole_float_day_counts_are_taken_stored_as_ints_and_checked_against_retention(api_call, tenant):
    # the rule schema's "type": "integer" allows 53769.0; the parser refused it (make fuzz found it)
    rules = {"all": [{"field": "created_at", "op": "within_last_days", "value": 30.0},
                     {"event": "open", "within_last_days": 7.0,
                      "aggregate": {"fn": "last_at", "op": "more_than_days_ago", "value": 2.0}}]}  # fmt: skip
    answer = api_call("POST", "/segments", tenant=tenant, body={"name": "w", "type": "dynamic", "rules": rules})
    assert answer.status == 201, answer.json
    stored = api_call("GET", f"/segments/{answer.json['id']}", tenant=tenant).json["rules"]
    assert stored == {"all": [{"field": "created_at", "op": "within_last_days", "value": 30},
                              {"event": "open", "within_last_days": 7,
                               "aggregate": {"fn": "last_at", "op": "more_than_days_ago", "value": 2}}]}  # fmt: skip
    assert type(stored["all"][0]["value"]) is int and type(stored["all"][1]["within_last_days"]) is int
    # a whole float past the retention (400 days by default) meets the retention check like its int
    too_far = {"event": "open", "within_last_days": 401.0}
    answer = api_call("POST", "/segments", tenant=tenant, body={"name": "f", "type": "dynamic", "rules": too_far})
    assert answer.status == 422 and answer.paths() == ["/rules/within_last_days"]
    assert "kept 400 days" in answer.json["error"]["details"][0]["message"]
    half_a_day = {"rules": {"event": "open", "within_last_days": 1.5}}
    answer = api_call("POST", "/segments/preview", tenant=tenant, body=half_a_day)
    assert answer.status == 422 and answer.paths() == ["/rules/within_last_days"]
