"""Dynamic segments through the real api handler: rule validation with JSON paths, references to
other segments, reference cycles, delete protection by referencing rules, clone with new rules."""

import pytest
from audience.storage import contacts_repo, memberships_repo

from tests.integration.module_moto import empty_tables, module_resources

A = "acme"
ADULTS = {"field": "age", "op": "gte", "value": 18}


@pytest.fixture(scope="module")
def aws_module():
    """One template-built moto session for this module (see tests/integration/module_moto.py)."""
    yield from module_resources()


@pytest.fixture
def aws(aws_module):
    yield aws_module
    empty_tables(aws_module)


@pytest.fixture
def call(api_call):
    def as_tenant(method, path, tenant=A, **kwargs):
        return api_call(method, path, tenant=tenant, **kwargs)

    return as_tenant


def dynamic(call, name, rules, **fields):
    response = call("POST", "/segments", body={"name": name, "type": "dynamic", "rules": rules, **fields})
    assert response.status == 201, response.text
    return response.json


def test_dynamic_segment_keeps_its_rules_exactly(call):
    rules = {"all": [ADULTS, {"field": "tags", "op": "has_any", "value": ["vip", "gold"]}]}
    created = dynamic(call, "Adult VIPs", rules)
    assert created["rules"] == rules and created["type"] == "dynamic"
    assert call("GET", f"/segments/{created['id']}").json["rules"] == rules


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"all": [ADULTS, {"field": "age", "op": "gte", "value": "old"}]}, "/rules/all/1/value"),
        ({"field": "shoe_size", "op": "eq", "value": 42}, "/rules/field"),
        ({"field": "age", "op": "contains", "value": "1"}, "/rules/op"),
        ({"all": []}, "/rules/all"),
        ({"segment": "missing"}, "/rules/segment"),
    ],
)
def test_invalid_rules_are_422_naming_the_offending_node(call, rules, path):
    response = call("POST", "/segments", body={"name": "x", "type": "dynamic", "rules": rules})
    assert response.status == 422, response.text
    assert response.paths() == [path]
    assert call("GET", "/segments").json["items"] == []


def test_every_rule_error_is_reported_at_once(call):
    rules = {"all": [{"field": "nope", "op": "eq", "value": 1}, {"field": "age", "op": "gt", "value": "x"}]}
    response = call("POST", "/segments", body={"name": "x", "type": "dynamic", "rules": rules})
    paths = response.paths()
    assert response.status == 422
    assert paths == ["/rules/all/0/field", "/rules/all/1/value"]


def test_reference_cycles_are_rejected_and_nothing_changes(call):
    base = dynamic(call, "Base", ADULTS)
    child = dynamic(call, "Child", {"all": [{"segment": base["id"]}, {"field": "score", "op": "gt", "value": 5}]})
    cycle = call("PATCH", f"/segments/{base['id']}", body={"rules": {"segment": child["id"]}})
    assert cycle.status == 422 and cycle.paths() == ["/rules/segment"]
    assert "cycle" in cycle.error["details"][0]["message"]
    selfish = call("PATCH", f"/segments/{base['id']}", body={"rules": {"not": {"segment": base["id"]}}})
    assert selfish.status == 422 and selfish.paths() == ["/rules/not/segment"]
    assert call("GET", f"/segments/{base['id']}").json["rules"] == ADULTS


def test_referenced_segment_cannot_be_deleted_unless_forced(call):
    base = dynamic(call, "Base", ADULTS)
    child = dynamic(call, "Child", {"any": [{"segment": base["id"]}]})
    refused = call("DELETE", f"/segments/{base['id']}")
    assert refused.status == 409 and refused.paths() == [f"/segments/{child['id']}"]
    uses = call("GET", f"/segments/{base['id']}/uses").json
    assert uses["segments"] == [{"id": child["id"], "name": "Child"}]
    forced = call("DELETE", f"/segments/{base['id']}", query={"force": "true"})
    assert forced.status == 200 and forced.json["referenced_by"] == [{"id": child["id"], "name": "Child"}]
    unreferenced = call("PATCH", f"/segments/{child['id']}", body={"rules": ADULTS})
    assert unreferenced.status == 200
    assert call("DELETE", f"/segments/{child['id']}").status == 200


def test_clone_may_change_rules_and_they_are_validated(call):
    base = dynamic(call, "Base", ADULTS, priority=3)
    clone = call(
        "POST",
        f"/segments/{base['id']}/clone",
        body={"name": "Seniors", "rules": {"field": "age", "op": "gte", "value": 65}},
    )
    assert clone.status == 201 and clone.json["rules"]["value"] == 65 and clone.json["priority"] == 3
    bad = call(
        "POST",
        f"/segments/{base['id']}/clone",
        body={"name": "Bad", "rules": {"field": "age", "op": "is_true"}},
    )
    assert bad.status == 422


def test_save_as_list_freezes_a_dynamic_segments_evaluated_members(call):
    for cid in ("c1", "c2"):
        contacts_repo.upsert(A, cid, {"age": 30})
    base = dynamic(call, "Adults", ADULTS)
    memberships_repo.add_many(A, base["id"], ["c1", "c2"], source="dynamic")
    frozen = call("POST", f"/segments/{base['id']}/save-as-list", body={"name": "Adults today"})
    assert frozen.status == 201 and frozen.json["type"] == "static" and frozen.json["member_count"] == 2
    members = call("GET", f"/segments/{frozen.json['id']}/members").json["items"]
    assert [m["contact_id"] for m in members] == ["c1", "c2"] and members[0]["age"] == 30


def test_a_segment_whose_reference_was_force_deleted_can_still_be_renamed(call):
    base = dynamic(call, "Base", ADULTS)
    child = dynamic(call, "Child", {"segment": base["id"]})
    call("DELETE", f"/segments/{base['id']}", query={"force": "true"})
    renamed = call("PATCH", f"/segments/{child['id']}", body={"name": "Child renamed"})
    assert renamed.status == 200 and renamed.json["name"] == "Child renamed"
    still_broken = call("PATCH", f"/segments/{child['id']}", body={"rules": {"segment": base["id"]}})
    assert still_broken.status == 422 and still_broken.paths() == ["/rules/segment"]
