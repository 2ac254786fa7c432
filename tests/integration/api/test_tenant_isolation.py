"""Tenant isolation, route by route: tenant B gets 404 for every route that names one of tenant A's
items (segment, contact, campaign, category, job), never sees A's items in a list, and can change
nothing of A's. The route table is checked against the app, so a new route with an id in its path
fails here until it is covered."""

from __future__ import annotations

import pytest

from functions.api.app import app


@pytest.fixture(scope="module")
def aws(shared_aws):
    """One moto world for the module: every test works in its own fresh tenants."""
    return shared_aws


@pytest.fixture
def world(api_call, tenants):
    """Tenant A with one of everything; tenant B with nothing but a key."""
    tenant_a, _ = tenants("Alpha")
    tenant_b, _ = tenants("Beta")

    def a(method, path, **kw):
        answer = api_call(method, path, tenant=tenant_a, **kw)
        assert answer.status < 300, (method, path, answer.text)
        return answer.json

    a("POST", "/categories", body={"name": "tiers"})
    a("POST", "/fields", body={"name": "secret_note", "type": "string"})
    a("PUT", "/contacts/alice", body={"email": "alice@alpha.io", "secret_note": "A only"})
    segment = a(
        "POST", "/segments", body={"name": "A VIP", "type": "static", "public": True, "category": "tiers"}
    )
    other = a("POST", "/segments", body={"name": "A Other", "type": "static"})
    a("POST", f"/segments/{segment['id']}/members", body={"contact_ids": ["alice"]})
    campaign = a("POST", "/campaigns", body={"name": "A launch", "segment_ids": [segment["id"]]})
    export = a("POST", f"/segments/{segment['id']}/exports", body={"format": "csv"})
    upload = a("POST", "/imports", body={"file_name": "a.csv"})
    events = a("POST", "/events", body={"events": [{"contact_id": "alice", "event": "open",
                                                     "occurred_at": "2025-01-01T00:00:00Z"}]})
    a(
        "PUT",
        "/settings/suppression",
        body={"received_at_least_never_clicked": {"enabled": True, "min_received": 3}},
    )
    ids = {
        "segment_id": segment["id"],
        "contact_id": "alice",
        "campaign_id": campaign["id"],
        "name": "tiers",
        "job_id": export["job_id"],
        "import_job_id": upload["job_id"],
        "other_segment_id": other["id"],
        "batch_id": events["batch_id"],
    }
    return tenant_a, tenant_b, ids


# (method, route) -> body B sends: valid for B's own data, so only ownership can make it a 404.
ROUTES_NAMING_AN_ITEM = {
    ("GET", "/segments/<segment_id>"): None,
    ("PUT", "/segments/<segment_id>"): {"name": "stolen", "type": "static"},
    ("PATCH", "/segments/<segment_id>"): {"name": "stolen"},
    ("DELETE", "/segments/<segment_id>"): None,
    ("POST", "/segments/<segment_id>/clone"): {"name": "copy"},
    ("GET", "/segments/<segment_id>/members"): None,
    ("POST", "/segments/<segment_id>/members"): {"contact_ids": ["bob"]},
    ("DELETE", "/segments/<segment_id>/members"): {"contact_ids": ["alice"]},
    ("POST", "/segments/<segment_id>/transfer"): {"contact_ids": ["alice"], "to": "{B_SEGMENT}"},
    ("POST", "/segments/<segment_id>/save-as-list"): {"name": "copy"},
    ("GET", "/segments/<segment_id>/uses"): None,
    ("GET", "/segments/<segment_id>/stats"): None,
    ("POST", "/segments/<segment_id>/exports"): {"format": "csv"},
    ("POST", "/segments/<segment_id>/mass-update"): {"set": {"first_name": "Mallory"}},
    ("POST", "/segments/<segment_id>/reset-score"): {"reason": "test", "confirm": True},
    ("POST", "/segments/<segment_id>/evaluate"): None,
    ("GET", "/segments/<segment_id>/explain/<contact_id>"): None,
    ("POST", "/segments/<segment_id>/preview-change"): {"rules": {"field": "score", "op": "gte", "value": 1}},
    ("GET", "/segments/<segment_id>/history"): None,
    ("GET", "/contacts/<contact_id>/history"): None,
    ("GET", "/contacts/<contact_id>"): None,
    ("DELETE", "/contacts/<contact_id>"): None,
    ("GET", "/contacts/<contact_id>/segments"): None,
    ("GET", "/campaigns/<campaign_id>"): None,
    ("PATCH", "/campaigns/<campaign_id>"): {"name": "stolen"},
    ("DELETE", "/categories/<name>"): None,
    ("GET", "/exports/<job_id>"): None,
    ("GET", "/jobs/<job_id>"): None,
    ("GET", "/imports/<job_id>"): None,
    ("GET", "/events/batches/<batch_id>"): None,
}
# PUT /contacts/{id} is an upsert: B writing "alice" creates B's own alice (checked below).
UPSERTS = {("PUT", "/contacts/<contact_id>")}


def test_every_route_with_an_id_is_in_the_table():
    app.include_every_router()  # requests load routers per resource; this needs all of them
    templated = {(r.method, r.path) for r in app._static_routes + app._dynamic_routes if "<" in r.path}
    assert templated == set(ROUTES_NAMING_AN_ITEM) | UPSERTS


def try_every_route(api_call, tenant_b: str, ids: dict[str, str]) -> list:
    """B calls every route with A's ids; returns the answers as (method, path, answer)."""
    b_segment = api_call("POST", "/segments", tenant=tenant_b, body={"name": "B", "type": "static"}).json[
        "id"
    ]
    answers = []
    for (method, route), body in ROUTES_NAMING_AN_ITEM.items():
        values = {**ids, "job_id": ids["import_job_id"] if route.startswith("/imports") else ids["job_id"]}
        path = route
        for name, value in values.items():
            path = path.replace(f"<{name}>", value)
        if body and body.get("to") == "{B_SEGMENT}":
            body = {**body, "to": b_segment}
        answers.append((method, path, api_call(method, path, tenant=tenant_b, body=body)))
    return answers


def test_tenant_b_gets_404_for_every_route_naming_a_s_items(api_call, world):
    _, tenant_b, ids = world
    for method, path, answer in try_every_route(api_call, tenant_b, ids):
        assert answer.status == 404, (method, path, answer.status, answer.text)
        assert answer.error["code"] == "not_found"
        assert "alice@alpha.io" not in answer.text and "A VIP" not in answer.text


def test_a_s_items_are_untouched_after_b_s_attempts(api_call, world):
    tenant_a, tenant_b, ids = world
    try_every_route(api_call, tenant_b, ids)
    segment = api_call("GET", f"/segments/{ids['segment_id']}", tenant=tenant_a).json
    assert segment["name"] == "A VIP" and segment["member_count"] == 1
    members = api_call("GET", f"/segments/{ids['segment_id']}/members", tenant=tenant_a).json["items"]
    assert [m["contact_id"] for m in members] == ["alice"]
    assert api_call("GET", "/contacts/alice", tenant=tenant_a).json["secret_note"] == "A only"
    assert api_call("GET", f"/campaigns/{ids['campaign_id']}", tenant=tenant_a).json["name"] == "A launch"
    assert [c["name"] for c in api_call("GET", "/categories", tenant=tenant_a).json["items"]] == ["tiers"]


def test_a_contact_id_is_per_tenant(api_call, world):
    tenant_a, tenant_b, _ = world
    mine = api_call("PUT", "/contacts/alice", tenant=tenant_b, body={"first_name": "Other Alice"})
    assert mine.status == 201
    assert "email" not in mine.json
    assert api_call("GET", "/contacts/alice", tenant=tenant_a).json["email"] == "alice@alpha.io"
    # the same email is free in B: uniqueness is per tenant
    assert api_call("PUT", "/contacts/bob", tenant=tenant_b, body={"email": "alice@alpha.io"}).status == 201


def test_b_never_sees_a_s_items_in_lists(api_call, world):
    _, tenant_b, ids = world
    for path in ("/segments", "/contacts", "/campaigns", "/categories"):
        answer = api_call("GET", path, tenant=tenant_b)
        assert answer.status == 200
        assert answer.json["items"] == [], path
    custom = [f for f in api_call("GET", "/fields", tenant=tenant_b).json["items"] if not f["builtin"]]
    assert custom == []
    settings = api_call("GET", "/settings/suppression", tenant=tenant_b).json
    assert settings["version"] == 0 and settings["received_at_least_never_clicked"]["enabled"] is False


def test_b_cannot_use_a_s_ids_inside_bodies(api_call, world):
    _, tenant_b, ids = world
    campaign = api_call(
        "POST", "/campaigns", tenant=tenant_b, body={"name": "x", "segment_ids": [ids["segment_id"]]}
    )
    assert campaign.status == 422 and campaign.paths() == ["/segment_ids/0"]
    upload = api_call(
        "POST", "/imports", tenant=tenant_b, body={"file_name": "b.csv", "segment_id": ids["segment_id"]}
    )
    assert upload.status == 422 and upload.paths() == ["/segment_id"]
    b_segment = api_call("POST", "/segments", tenant=tenant_b, body={"name": "B", "type": "static"}).json[
        "id"
    ]
    transfer = api_call(
        "POST",
        f"/segments/{b_segment}/transfer",
        tenant=tenant_b,
        body={"contact_ids": ["x"], "to": ids["segment_id"]},
    )
    assert transfer.status in (404, 422)
    in_category = api_call(
        "POST", "/segments", tenant=tenant_b, body={"name": "B", "type": "static", "category": "tiers"}
    )
    assert in_category.status == 422 and in_category.paths() == ["/category"]


def test_a_s_pagination_token_is_useless_to_b(api_call, world, tenants):
    tenant_a, tenant_b, _ = world
    token = api_call("GET", "/segments", tenant=tenant_a, query={"limit": 1}).json["next_token"]
    assert token
    answer = api_call("GET", "/segments", tenant=tenant_b, query={"limit": 1, "next_token": token})
    assert answer.status == 400
