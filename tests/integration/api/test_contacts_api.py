"""/contacts: upsert with catalog validation, read, erase (with memberships), list, segments."""

from __future__ import annotations

import pytest
from audience.storage import contacts_repo, memberships_repo, segments_repo


@pytest.fixture(scope="module")
def aws(shared_aws):
    """One moto world for the module: every test works in its own fresh tenants."""
    return shared_aws


@pytest.fixture
def tenant(tenants):
    return tenants("Acme")[0]


def test_put_creates_then_replaces_and_get_reads_it(api_call, tenant):
    created = api_call("PUT", "/contacts/c1", tenant=tenant, body={"email": "Ada@Example.com", "age": 36})
    assert created.status == 201
    assert created.json["email"] == "ada@example.com"
    replaced = api_call("PUT", "/contacts/c1", tenant=tenant, body={"first_name": "Ada"})
    assert replaced.status == 200
    read = api_call("GET", "/contacts/c1", tenant=tenant).json
    assert read["contact_id"] == "c1" and read["first_name"] == "Ada"
    assert "email" not in read and "age" not in read
    assert read["created_at"] == created.json["created_at"]


def test_merge_keeps_other_fields_and_null_removes_one(api_call, tenant):
    api_call("PUT", "/contacts/c1", tenant=tenant, body={"email": "a@x.io", "age": 1, "city": "Oslo"})
    merged = api_call(
        "PUT", "/contacts/c1", tenant=tenant, body={"age": 2, "city": None}, query={"merge": "true"}
    )
    assert merged.status == 200
    assert merged.json["age"] == 2 and merged.json["email"] == "a@x.io" and "city" not in merged.json


def test_custom_fields_are_accepted_once_declared(api_call, tenant):
    body = {"loyalty_tier": "gold"}
    assert api_call("PUT", "/contacts/c1", tenant=tenant, body=body).paths() == ["/loyalty_tier"]
    assert (
        api_call("POST", "/fields", tenant=tenant, body={"name": "loyalty_tier", "type": "string"}).status
        == 201
    )
    assert api_call("PUT", "/contacts/c1", tenant=tenant, body=body).json["loyalty_tier"] == "gold"


def test_wrong_types_are_422_with_each_path(api_call, tenant):
    answer = api_call(
        "PUT",
        "/contacts/c1",
        tenant=tenant,
        body={"age": "old", "subscribed": "yes", "tags": "a", "last_clicked_at": "never", "phone": "12"},
    )
    assert answer.status == 422
    assert sorted(answer.paths()) == ["/age", "/last_clicked_at", "/phone", "/subscribed", "/tags"]
    assert api_call("GET", "/contacts/c1", tenant=tenant).status == 404


def test_an_email_owned_by_another_contact_is_409(api_call, tenant):
    api_call("PUT", "/contacts/c1", tenant=tenant, body={"email": "same@x.io"})
    answer = api_call("PUT", "/contacts/c2", tenant=tenant, body={"email": "SAME@x.io"})
    assert answer.status == 409
    assert answer.paths() == ["/email"]


def test_a_body_that_contradicts_the_url_id_or_is_not_an_object_is_422(api_call, tenant):
    assert api_call("PUT", "/contacts/c1", tenant=tenant, body={"contact_id": "c2"}).paths() == [
        "/contact_id"
    ]
    assert api_call("PUT", "/contacts/c1", tenant=tenant, body=["x"]).status == 422
    assert api_call("PUT", "/contacts/" + "x" * 200, tenant=tenant, body={}).status == 422


def test_erase_tombstones_the_contact_and_removes_every_membership(api_call, tenant):
    api_call("PUT", "/contacts/c1", tenant=tenant, body={"email": "gone@x.io"})
    segment = segments_repo.create(tenant, name="VIP", type="static")
    memberships_repo.add_many(tenant, segment.id, ["c1"])
    assert [s["id"] for s in api_call("GET", "/contacts/c1/segments", tenant=tenant).json["items"]] == [
        segment.id
    ]
    assert api_call("DELETE", "/contacts/c1", tenant=tenant).status == 204
    assert api_call("GET", "/contacts/c1", tenant=tenant).status == 404
    assert api_call("DELETE", "/contacts/c1", tenant=tenant).status == 404
    assert memberships_repo.segments_of(tenant, "c1") == []
    assert contacts_repo.owner_of(tenant, "email", "gone@x.io") is None
    # the email is free again
    assert api_call("PUT", "/contacts/c2", tenant=tenant, body={"email": "gone@x.io"}).status == 201


def test_segments_of_a_contact(api_call, tenant):
    assert api_call("GET", "/contacts/nobody/segments", tenant=tenant).status == 404
    api_call("PUT", "/contacts/c1", tenant=tenant, body={})
    assert api_call("GET", "/contacts/c1/segments", tenant=tenant).json == {"items": []}
    live = api_call("GET", "/contacts/c1/segments", tenant=tenant, query={"live": "true"})
    assert live.status == 200 and live.json == {"items": []}  # evaluated now: no segment takes it


def test_list_pages_through_every_contact_once(api_call, tenant):
    for i in range(7):
        api_call("PUT", f"/contacts/c{i}", tenant=tenant, body={"age": i})
    api_call("DELETE", "/contacts/c3", tenant=tenant)
    seen, token = [], None
    while True:
        query = {"limit": 2, **({"next_token": token} if token else {})}
        page = api_call("GET", "/contacts", tenant=tenant, query=query).json
        assert len(page["items"]) <= 2
        seen += [c["contact_id"] for c in page["items"]]
        token = page["next_token"]
        if token is None:
            break
    assert sorted(seen) == ["c0", "c1", "c2", "c4", "c5", "c6"]


def test_a_forged_or_foreign_token_is_400(api_call, tenants):
    tenant_a, _ = tenants("Acme")
    tenant_b, _ = tenants("Globex")
    for i in range(3):
        api_call("PUT", f"/contacts/c{i}", tenant=tenant_a, body={})
    token = api_call("GET", "/contacts", tenant=tenant_a, query={"limit": 1}).json["next_token"]
    assert token
    foreign = api_call("GET", "/contacts", tenant=tenant_b, query={"limit": 1, "next_token": token})
    assert foreign.status == 400 and foreign.paths() == ["?next_token"]
    other_list = api_call("GET", "/campaigns", tenant=tenant_a, query={"next_token": token})
    assert other_list.status == 400
    forged = api_call("GET", "/contacts", tenant=tenant_a, query={"next_token": token[:-3] + "AAA"})
    assert forged.status == 400


def test_ids_in_the_path_are_percent_decoded_like_api_gateway_sends_them(api_call, tenant):
    created = api_call("PUT", "/contacts/ada%40example.com", tenant=tenant, body={"first_name": "Ada"})
    assert created.status == 201 and created.json["contact_id"] == "ada@example.com"
    assert api_call("GET", "/contacts/ada@example.com", tenant=tenant).json["first_name"] == "Ada"
    assert api_call("PUT", "/contacts/a%20b", tenant=tenant, body={}).paths() == ["{contact_id}"]
    assert api_call("GET", "/contacts/%F0%9F%98%80", tenant=tenant).status == 404
