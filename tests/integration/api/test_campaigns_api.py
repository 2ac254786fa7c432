"""/campaigns: only public segments as audience; statuses; If-Match."""

from __future__ import annotations

import pytest
from audience.storage import segments_repo


@pytest.fixture(scope="module")
def aws(shared_aws):
    """One moto world for the module: every test works in its own fresh tenants."""
    return shared_aws


@pytest.fixture
def tenant(tenants):
    return tenants("Acme")[0]


@pytest.fixture
def public_segment(tenant):
    return segments_repo.create(tenant, name="Newsletter", type="static", public=True)


def test_create_read_list_and_patch(api_call, tenant, public_segment):
    created = api_call(
        "POST",
        "/campaigns",
        tenant=tenant,
        body={"name": "Spring", "segment_ids": [public_segment.id], "start_at": "2025-03-01T00:00:00+01:00"},
    )
    assert created.status == 201
    campaign = created.json
    assert campaign["status"] == "draft" and campaign["start_at"] == "2025-02-28T23:00:00.000Z"
    assert api_call("GET", f"/campaigns/{campaign['id']}", tenant=tenant).json == campaign
    assert [c["id"] for c in api_call("GET", "/campaigns", tenant=tenant).json["items"]] == [campaign["id"]]
    patched = api_call("PATCH", f"/campaigns/{campaign['id']}", tenant=tenant, body={"status": "active"})
    assert patched.status == 200
    assert patched.json["status"] == "active" and patched.json["version"] == campaign["version"] + 1


def test_only_public_segments_may_be_an_audience(api_call, tenant, public_segment):
    private = segments_repo.create(tenant, name="Internal", type="static", public=False)
    answer = api_call(
        "POST",
        "/campaigns",
        tenant=tenant,
        body={"name": "x", "segment_ids": [public_segment.id, private.id, "nope"]},
    )
    assert answer.status == 422
    assert answer.paths() == ["/segment_ids/1", "/segment_ids/2"]
    assert "public" in answer.error["details"][0]["message"]


def test_bad_campaign_bodies_are_422(api_call, tenant, public_segment):
    base = {"name": "x", "segment_ids": [public_segment.id]}
    assert api_call("POST", "/campaigns", tenant=tenant, body={**base, "status": "running"}).paths() == [
        "/status"
    ]
    assert api_call("POST", "/campaigns", tenant=tenant, body={**base, "segment_ids": []}).paths() == [
        "/segment_ids"
    ]
    assert api_call(
        "POST", "/campaigns", tenant=tenant, body={**base, "start_at": "2025-01-01T00:00:00"}
    ).paths() == ["/start_at"]
    window = {**base, "start_at": "2025-02-01T00:00:00Z", "end_at": "2025-01-01T00:00:00Z"}
    assert api_call("POST", "/campaigns", tenant=tenant, body=window).status == 422


def test_stale_if_match_is_412_and_changes_nothing(api_call, tenant, public_segment):
    campaign = api_call(
        "POST", "/campaigns", tenant=tenant, body={"name": "x", "segment_ids": [public_segment.id]}
    ).json
    path = f"/campaigns/{campaign['id']}"
    stale = api_call(
        "PATCH", path, tenant=tenant, body={"name": "y"}, headers={"If-Match": str(campaign["version"] + 5)}
    )
    assert stale.status == 412
    assert api_call("GET", path, tenant=tenant).json["name"] == "x"
    fresh = api_call(
        "PATCH", path, tenant=tenant, body={"name": "y"}, headers={"If-Match": f'"{campaign["version"]}"'}
    )
    assert fresh.status == 200 and fresh.json["name"] == "y"


def test_a_completed_campaign_is_final(api_call, tenant, public_segment):
    campaign = api_call(
        "POST", "/campaigns", tenant=tenant, body={"name": "x", "segment_ids": [public_segment.id]}
    ).json
    path = f"/campaigns/{campaign['id']}"
    assert api_call("PATCH", path, tenant=tenant, body={"status": "completed"}).status == 200
    assert api_call("PATCH", path, tenant=tenant, body={"status": "active"}).status == 409


def test_unknown_campaign_is_404(api_call, tenant):
    assert api_call("GET", "/campaigns/nope", tenant=tenant).status == 404
    assert api_call("PATCH", "/campaigns/nope", tenant=tenant, body={"name": "x"}).status == 404
