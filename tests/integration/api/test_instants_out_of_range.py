"""An instant whose offset takes it outside datetime's years 1-9999 once in UTC is the caller's
mistake: a 422 at its path on every route that takes one, never a 500 (found by `make fuzz`)."""

from __future__ import annotations

import pytest

EARLY = "0001-01-01T00:00:00+05:30"  # 31 December of year 0 in UTC
LATE = "9999-12-31T23:00:00-08:00"  # 1 January of year 10000 in UTC


@pytest.fixture
def tenant(tenants):
    return tenants()[0]


@pytest.fixture
def public_segment(api_call, tenant):
    answer = api_call("POST", "/segments", tenant=tenant, body={"name": "p", "type": "static", "public": True})
    assert answer.status == 201
    return answer.json["id"]


@pytest.mark.parametrize("instant", [EARLY, LATE])
def test_a_rule_value_out_of_range_in_utc_is_a_422_at_its_path(api_call, tenant, instant):
    for rule, path in (({"field": "created_at", "op": "after", "value": instant}, "/rules/value"),
                       ({"field": "created_at", "op": "between", "value": ["2020-01-01", instant]}, "/rules/value/1")):
        answer = api_call("POST", "/segments/preview", tenant=tenant, body={"rules": rule})
        assert answer.status == 422, answer.text
        assert path in answer.paths()


@pytest.mark.parametrize("instant", [EARLY, LATE])
def test_a_campaign_instant_out_of_range_in_utc_is_a_422_at_its_path(api_call, tenant, public_segment, instant):
    answer = api_call("POST", "/campaigns", tenant=tenant,
                      body={"name": "c", "segment_ids": [public_segment], "start_at": instant})
    assert answer.status == 422 and answer.paths() == ["/start_at"], answer.text
    created = api_call("POST", "/campaigns", tenant=tenant, body={"name": "c", "segment_ids": [public_segment]})
    assert created.status == 201
    answer = api_call("PATCH", f"/campaigns/{created.json['id']}", tenant=tenant, body={"end_at": instant})
    assert answer.status == 422 and answer.paths() == ["/end_at"], answer.text
    assert api_call("GET", f"/campaigns/{created.json['id']}", tenant=tenant).json["end_at"] is None


@pytest.mark.parametrize("instant", [EARLY, LATE])
def test_an_export_since_out_of_range_in_utc_is_a_422_at_its_path(api_call, tenant, public_segment, instant):
    answer = api_call("POST", f"/segments/{public_segment}/exports", tenant=tenant,
                      body={"format": "csv", "added_since": instant})
    assert answer.status == 422 and answer.paths() == ["/added_since"], answer.text


@pytest.mark.parametrize("instant", [EARLY, LATE])
def test_a_contact_date_time_out_of_range_in_utc_is_a_422_at_its_path(api_call, tenant, instant):
    answer = api_call("PUT", "/contacts/c1", tenant=tenant, body={"email": "a@x.io", "last_clicked_at": instant})
    assert answer.status == 422 and answer.paths() == ["/last_clicked_at"], answer.text


@pytest.mark.parametrize("instant", [EARLY, LATE])
def test_a_mass_update_date_time_out_of_range_in_utc_is_a_422_at_its_path(api_call, tenant, public_segment,
                                                                            instant):
    answer = api_call("POST", f"/segments/{public_segment}/mass-update", tenant=tenant,
                      body={"set": {"last_clicked_at": instant}})
    assert answer.status == 422 and answer.paths() == ["/set/last_clicked_at"], answer.text


@pytest.mark.parametrize("instant", [EARLY, LATE])
def test_history_since_out_of_range_in_utc_is_a_422_at_its_path(api_call, tenant, public_segment, instant):
    answer = api_call("GET", f"/segments/{public_segment}/history", tenant=tenant, query={"since": instant})
    assert answer.status == 422 and answer.paths() == ["?since"], answer.text


@pytest.mark.parametrize("instant", [EARLY, LATE])
def test_an_event_time_out_of_range_in_utc_is_a_422_at_its_path(api_call, tenant, instant):
    answer = api_call("POST", "/events", tenant=tenant,
                      body={"events": [{"contact_id": "c1", "event": "open", "occurred_at": instant}]})
    assert answer.status == 422 and answer.paths() == ["/events/0/occurred_at"], answer.text
