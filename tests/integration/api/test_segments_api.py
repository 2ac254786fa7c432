"""Segment routes through the real api handler with API Gateway proxy events: CRUD, lists and
tokens, If-Match, members, transfer, clone, save-as-list, uses, stats and every failure answer."""

import pytest
from audience.storage import campaigns_repo, contacts_repo, segments_repo

from tests.integration.module_moto import empty_tables, module_resources

A, B = "acme", "globex"


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


@pytest.fixture
def people(aws):
    for i in range(1, 5):
        contacts_repo.upsert(A, f"c{i}", {"email": f"p{i}@x.com", "first_name": f"P{i}", "score": i})
    return ["c1", "c2", "c3", "c4"]


def make(call, name="VIP", **fields):
    response = call("POST", "/segments", body={"name": name, "type": "static", **fields})
    assert response.status == 201, response.text
    return response.json


def test_create_read_and_list_a_segment(call):
    created = make(call, "VIP", description="best", topics=["news"], public=True)
    assert created["version"] == 1 and created["type"] == "static" and created["member_count"] == 0
    assert set(created) >= {
        "id",
        "name",
        "description",
        "type",
        "rules",
        "category",
        "priority",
        "public",
        "topics",
    }
    read = call("GET", f"/segments/{created['id']}")
    assert read.status == 200 and read.json == created
    listed = call("GET", "/segments")
    assert listed.status == 200 and listed.json == {"items": [created], "next_token": None}


def test_list_filters_by_category_type_public_and_name(call):
    assert call("POST", "/categories", body={"name": "stage"}).status == 201
    make(call, "Summer promo", category="stage", public=True)
    make(call, "Winter promo")
    make(call, "Other", public=True)
    names = lambda **q: sorted(s["name"] for s in call("GET", "/segments", query=q).json["items"])  # noqa: E731
    assert names(q="PROMO") == ["Summer promo", "Winter promo"]
    assert names(category="stage") == ["Summer promo"]
    assert names(public="true") == ["Other", "Summer promo"]
    assert names(public="false", q="promo") == ["Winter promo"]
    assert names(type="dynamic") == []
    assert names(type="static", q="other") == ["Other"]


def test_pages_follow_next_token_and_bad_tokens_are_400(call):
    ids = [make(call, f"S{i}")["id"] for i in range(5)]
    assert call("POST", "/segments", tenant=B, body={"name": "F", "type": "static"}).status == 201
    seen, token = [], None
    while True:
        page = call("GET", "/segments", query={"limit": 2, **({"next_token": token} if token else {})})
        assert page.status == 200
        seen += [s["id"] for s in page.json["items"]]
        token = page.json["next_token"]
        if token is None:
            break
    assert seen == ids  # oldest first
    first = call("GET", "/segments", query={"limit": 2}).json["next_token"]
    foreign = call("GET", "/segments", tenant=B, query={"next_token": first})
    assert foreign.status == 400 and foreign.paths() == ["?next_token"]
    forged = call("GET", "/segments", query={"next_token": first[:-3] + "abc"})
    assert forged.status == 400
    assert call("GET", "/segments", query={"next_token": "garbage"}).status == 400


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"limit": 0}, "?limit"),
        ({"limit": 501}, "?limit"),
        ({"type": "weird"}, "?type"),
        ({"public": "maybe"}, "?public"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_parameter(call, query, path):
    response = call("GET", "/segments", query=query)
    assert response.status == 422 and path in response.paths()


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"type": "static"}, "/name"),
        ({"name": "  ", "type": "static"}, "/name"),
        ({"name": "x", "type": "sometimes"}, "/type"),
        ({"name": "x", "type": "static", "colour": "red"}, "/colour"),
        ({"name": "x", "type": "static", "priority": "high"}, "/priority"),
        ({"name": "x", "type": "static", "topics": ["a", 5]}, "/topics/1"),
        ({"name": "x", "type": "static", "category": "missing"}, "/category"),
        ({"name": "x", "type": "dynamic"}, "/rules"),
        ({"name": "x", "type": "static", "rules": {"field": "age", "op": "gt", "value": 1}}, "/rules"),
    ],
)
def test_invalid_segment_bodies_are_422_with_the_json_path(call, body, path):
    response = call("POST", "/segments", body=body)
    assert response.status == 422, response.text
    assert path in response.paths()
    assert call("GET", "/segments").json["items"] == []


def test_malformed_json_is_400_and_nothing_is_created(call):
    response = call("POST", "/segments", raw_body='{"name": "x", ')
    assert response.status == 400
    assert call("GET", "/segments").json["items"] == []


def test_put_and_patch_honour_if_match(call):
    seg = make(call, "A", description="one")
    sid = seg["id"]
    patched = call("PATCH", f"/segments/{sid}", body={"description": "two"}, headers={"If-Match": "1"})
    assert patched.status == 200 and patched.json["version"] == 2 and patched.json["name"] == "A"
    stale = call("PUT", f"/segments/{sid}", body={"name": "B", "type": "static"}, headers={"If-Match": "1"})
    assert stale.status == 412 and stale.paths() == ["If-Match"]
    assert call("GET", f"/segments/{sid}").json["name"] == "A"
    replaced = call("PUT", f"/segments/{sid}", body={"name": "B", "type": "static"}, headers={"If-Match": '"2"'})
    assert replaced.status == 200 and replaced.json["description"] is None and replaced.json["version"] == 3
    unconditional = call("PATCH", f"/segments/{sid}", body={"priority": 4})
    assert unconditional.status == 200 and unconditional.json["version"] == 4
    bad = call("PATCH", f"/segments/{sid}", body={"priority": 5}, headers={"If-Match": "soon"})
    assert bad.status == 400 and bad.paths() == ["If-Match"]
    null_name = call("PATCH", f"/segments/{sid}", body={"name": None})
    assert null_name.status == 422 and null_name.paths() == ["/name"]
    retype = call("PATCH", f"/segments/{sid}", body={"type": "dynamic"})
    assert retype.status == 422 and retype.paths() == ["/type"]


def test_stale_delete_is_412_and_changes_nothing(call):
    sid = make(call)["id"]
    call("PATCH", f"/segments/{sid}", body={"name": "new"})
    assert call("DELETE", f"/segments/{sid}", headers={"If-Match": "1"}).status == 412
    assert call("GET", f"/segments/{sid}").status == 200
    assert call("DELETE", f"/segments/{sid}", headers={"If-Match": "2"}).status == 200
    assert call("GET", f"/segments/{sid}").status == 404


def test_every_route_answers_404_for_unknown_and_other_tenants_segments(call, people):
    sid = make(call)["id"]
    routes = [
        ("GET", "", None),
        ("PUT", "", {"name": "x", "type": "static"}),
        ("PATCH", "", {"name": "x"}),
        ("DELETE", "", None),
        ("POST", "/clone", {"name": "x"}),
        ("GET", "/members", None),
        ("POST", "/members", {"contact_ids": ["c1"]}),
        ("DELETE", "/members?all", None),
        ("POST", "/transfer", {"contact_ids": ["c1"], "to": sid}),
        ("POST", "/save-as-list", {"name": "x"}),
        ("GET", "/uses", None),
        ("GET", "/stats", None),
    ]
    for segment_id, tenant in ((sid, B), ("does-not-exist", A)):
        for method, suffix, body in routes:
            query = {"all": "true"} if suffix.endswith("?all") else None
            path = f"/segments/{segment_id}{suffix.removesuffix('?all')}"
            response = call(method, path, tenant=tenant, body=body, query=query)
            assert response.status == 404, (method, path, tenant, response.text)
            assert response.error["code"] == "not_found"
    assert call("GET", f"/segments/{sid}").json["name"] == "VIP"
    assert call("GET", "/segments", tenant=B).json["items"] == []


def test_members_add_list_with_fields_and_remove(call, people):
    sid = make(call)["id"]
    added = call("POST", f"/segments/{sid}/members", body={"contact_ids": ["c1", "c2", "c3"]})
    assert added.status == 200 and added.json["added"] == 3 and added.json["member_count"] == 3
    listed = call("GET", f"/segments/{sid}/members", query={"fields": "email,score", "limit": 2})
    assert listed.status == 200
    assert listed.json["items"] == [
        {"contact_id": "c1", "email": "p1@x.com", "score": 1},
        {"contact_id": "c2", "email": "p2@x.com", "score": 2},
    ]
    rest = call("GET", f"/segments/{sid}/members", query={"next_token": listed.json["next_token"]})
    assert [m["contact_id"] for m in rest.json["items"]] == ["c3"] and rest.json["items"][0]["first_name"] == "P3"
    other_list = call(
        "GET",
        f"/segments/{make(call, 'Other')['id']}/members",
        query={"next_token": listed.json["next_token"]},
    )
    assert other_list.status == 400
    assert call("GET", f"/segments/{sid}/members", query={"fields": "shoe_size"}).paths() == ["/fields"]
    removed = call("DELETE", f"/segments/{sid}/members", body={"contact_ids": ["c1"]})
    assert removed.status == 200 and removed.json == {"removed": 1, "member_count": 2}
    # nothing named, nothing removed (the request names neither ids nor ?all=true)
    untouched = call("DELETE", f"/segments/{sid}/members")
    assert untouched.status == 200 and untouched.json == {"removed": 0, "member_count": 2}
    cleared = call("DELETE", f"/segments/{sid}/members", query={"all": "true"})
    assert cleared.json == {"removed": 2, "member_count": 0}
    assert call("GET", f"/segments/{sid}").json["member_count"] == 0
    assert call("GET", "/contacts/c1").status == 200


def test_adding_unknown_contacts_adds_the_known_ones_and_reports_the_others(call, people):
    sid = make(call)["id"]
    response = call("POST", f"/segments/{sid}/members", body={"contact_ids": ["c1", "ghost"]})
    assert response.status == 200 and response.json["unknown_contacts"] == ["ghost"]
    assert call("POST", f"/segments/{sid}/members", body={"contact_ids": []}).status == 422
    assert call("GET", f"/segments/{sid}").json["member_count"] == 1


def test_category_exclusivity_and_transfer(call, people):
    call("POST", "/categories", body={"name": "stage"})
    lead, customer = (
        make(call, "Lead", category="stage")["id"],
        make(call, "Customer", category="stage")["id"],
    )
    inbox = make(call, "Inbox")["id"]
    call("POST", f"/segments/{lead}/members", body={"contact_ids": ["c1", "c2"]})
    call("POST", f"/segments/{inbox}/members", body={"contact_ids": ["c3"]})
    moved = call("POST", f"/segments/{customer}/members", body={"contact_ids": ["c1"]})
    assert moved.json["moved"] == 1
    ids = lambda s: [m["contact_id"] for m in call("GET", f"/segments/{s}/members").json["items"]]  # noqa: E731
    assert ids(lead) == ["c2"] and ids(customer) == ["c1"]
    transferred = call("POST", f"/segments/{inbox}/transfer", body={"contact_ids": ["c3"], "to": lead})
    assert transferred.status == 200 and transferred.json["removed_from_source"] == 1
    assert ids(inbox) == [] and ids(lead) == ["c2", "c3"]
    # not members (any more): left alone and reported, as a retried transfer would find them
    again = call("POST", f"/segments/{inbox}/transfer", body={"contact_ids": ["c3", "c1"], "to": lead})
    assert again.status == 200 and again.json["transferred"] == 0 and again.json["not_members"] == ["c3", "c1"]
    call("POST", f"/segments/{inbox}/members", body={"contact_ids": ["c4"]})
    partly = call("POST", f"/segments/{inbox}/transfer", body={"contact_ids": ["c1", "c4"], "to": lead})
    assert partly.status == 200 and (partly.json["transferred"], partly.json["not_members"]) == (1, ["c1"])
    no_target = call("POST", f"/segments/{lead}/transfer", body={"contact_ids": ["c2"], "to": "nope"})
    assert no_target.status == 422 and no_target.paths() == ["/to"]
    foreign_target = call("POST", "/segments", tenant=B, body={"name": "B", "type": "static"}).json["id"]
    assert call("POST", f"/segments/{lead}/transfer", body={"contact_ids": ["c2"], "to": foreign_target}).status == 422
    assert ids(lead) == ["c2", "c3", "c4"]


def test_clone_and_save_as_list_create_new_segments(call, people):
    sid = make(call, "Base", topics=["t"])["id"]
    call("POST", f"/segments/{sid}/members", body={"contact_ids": ["c1", "c2"]})
    clone = call("POST", f"/segments/{sid}/clone", body={"name": "Base 2", "public": True})
    assert clone.status == 201
    assert (clone.json["name"], clone.json["public"], clone.json["topics"], clone.json["member_count"]) == (
        "Base 2",
        True,
        ["t"],
        2,
    )
    assert clone.json["id"] != sid and clone.json["version"] == 1
    frozen = call("POST", f"/segments/{sid}/save-as-list", body={"name": "Frozen"})
    assert frozen.status == 201 and frozen.json["type"] == "static" and frozen.json["member_count"] == 2
    assert call("POST", f"/segments/{sid}/clone", body={}).paths() == ["/name"]


def test_delete_is_409_while_a_live_campaign_uses_it_unless_forced(call, people):
    sid = make(call, public=True)["id"]
    call("POST", f"/segments/{sid}/members", body={"contact_ids": ["c1"]})
    campaigns_repo.create(A, name="Launch", segment_ids=[sid], status="active")
    used = call("DELETE", f"/segments/{sid}")
    assert used.status == 409 and used.error["details"][0]["path"].startswith("/campaigns/")
    uses = call("GET", f"/segments/{sid}/uses")
    assert uses.status == 200 and [c["name"] for c in uses.json["campaigns"]] == ["Launch"]
    forced = call("DELETE", f"/segments/{sid}", query={"force": "true"})
    assert forced.status == 200 and forced.json["campaigns"][0]["name"] == "Launch"
    assert call("GET", f"/segments/{sid}").status == 404
    assert call("GET", "/contacts/c1").status == 200


def test_dynamic_segments_refuse_manual_members_with_409(call, people):
    # Stored directly: this is about members, not about rule validation (tested with the rule engine).
    did = segments_repo.create(A, name="D", type="dynamic", rules={"field": "score", "op": "gt", "value": 2}).id
    assert call("POST", f"/segments/{did}/members", body={"contact_ids": ["c1"]}).status == 409
    sid = make(call)["id"]
    call("POST", f"/segments/{sid}/members", body={"contact_ids": ["c1"]})
    assert call("POST", f"/segments/{sid}/transfer", body={"contact_ids": ["c1"], "to": did}).status == 409


def test_stats_count_daily_changes_and_campaigns(call, people):
    sid = make(call)["id"]
    call("POST", f"/segments/{sid}/members", body={"contact_ids": ["c1", "c2", "c3"]})
    call("DELETE", f"/segments/{sid}/members", body={"contact_ids": ["c3"]})
    campaigns_repo.create(A, name="Done", segment_ids=[sid], status="completed")
    stats = call("GET", f"/segments/{sid}/stats")
    assert stats.status == 200
    assert (stats.json["total"], stats.json["added"], stats.json["removed"]) == (2, 3, 1)
    assert stats.json["active_campaigns"] == [] and stats.json["campaigns_participated"][0]["name"] == "Done"
    assert len(stats.json["days"]) == 1
    empty = call("GET", f"/segments/{sid}/stats", query={"from": "2020-01-01", "to": "2020-01-31"})
    assert empty.json["days"] == [] and empty.json["added"] == 0
    assert call("GET", f"/segments/{sid}/stats", query={"from": "2020-13-01"}).paths() == ["/from"]


def test_odd_input_is_a_4xx_never_a_500(call, people):
    sid = make(call)["id"]
    assert call("GET", "/segments/" + "x" * 2000).status == 404
    assert call("POST", f"/segments/{sid}/members", body={"contact_ids": [""]}).paths() == ["/contact_ids/0"]
    assert call("POST", f"/segments/{sid}/members", body={"contact_ids": ["c" * 5000]}).status == 422
    surrogate = call("POST", "/segments", raw_body='{"name": "bad \\ud800 name", "type": "static"}')
    assert surrogate.status == 422 and surrogate.paths() == ["/name"]
    unicode_name = call("POST", "/segments", body={"name": "Ünïcødé 🎯 ليبيا", "type": "static"})
    assert unicode_name.status == 201 and unicode_name.json["name"] == "Ünïcødé 🎯 ليبيا"
    assert call("POST", "/segments", body=["not", "an", "object"]).status == 422
    assert call("POST", f"/segments/{sid}/transfer", body={"contact_ids": ["c1"], "to": 5}).paths() == ["/to"]
