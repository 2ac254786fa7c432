"""Membership history: every change recorded with its cause (run, api, import, transfer, stream),
listed newest first per contact and per segment, erased with the contact, written in batches."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from audience.evaluation.run import run_tenant
from audience.imports.segment_membership import add_to_static_segment
from audience.realtime.apply import TenantCache, apply_change
from audience.realtime.changes import ContactChange
from audience.segments.members import add_members, remove_members
from audience.segments.transfer import transfer
from audience.storage import categories_repo, contacts_repo, membership_history_repo, segments_repo
from botocore.client import BaseClient


def history(api_call, tenant, path, **query):
    answer = api_call("GET", path, tenant=tenant, query=query or None)
    assert answer.status == 200, answer.text
    return answer.json


def changes_of(api_call, tenant, contact_id):
    return [(e["segment_id"], e["change"], e["source"])
            for e in history(api_call, tenant, f"/contacts/{contact_id}/history")["items"]]


def test_runs_record_joins_and_leaves_with_run_id_and_rules_version(tenant, s3, api_call):
    for n in range(5):
        contacts_repo.upsert(tenant, f"c{n}", {"score": 80})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 50})
    first = run_tenant(tenant, as_of=datetime.now(UTC), s3=s3)
    contacts_repo.upsert(tenant, "c1", {"score": 10})
    second = run_tenant(tenant, as_of=datetime.now(UTC) + timedelta(seconds=1), s3=s3)

    entries = history(api_call, tenant, "/contacts/c1/history")["items"]
    assert [(e["change"], e["source"], e["run_id"]) for e in entries] == [
        ("left", "run", second.run_id), ("joined", "run", first.run_id)]
    assert entries[0]["segment_id"] == high.id and entries[0]["contact_id"] == "c1"
    assert entries[0]["rules_version"] == segments_repo.get(tenant, high.id).version
    assert entries[0]["at"] > entries[1]["at"]

    since = history(api_call, tenant, f"/segments/{high.id}/history",
                    since=second.as_of.isoformat().replace("+00:00", "Z"))["items"]
    assert [(e["contact_id"], e["change"]) for e in since] == [("c1", "left")]
    everything = history(api_call, tenant, f"/segments/{high.id}/history")["items"]
    assert len(everything) == 6 and everything[0]["change"] == "left"


def test_history_pages_newest_first_with_next_token(tenant, api_call):
    static = segments_repo.create(tenant, name="List", type="static")
    contacts_repo.upsert(tenant, "ada", {"email": "ada@example.com"})
    for _ in range(3):
        add_members(tenant, static.id, ["ada"])
        remove_members(tenant, static.id, ["ada"])
    seen, token = [], None
    while True:
        page = history(api_call, tenant, "/contacts/ada/history", limit=4, **({"next_token": token} if token else {}))
        seen += page["items"]
        token = page["next_token"]
        if not token:
            break
    assert [e["change"] for e in seen] == ["left", "joined"] * 3
    assert [e["at"] for e in seen] == sorted((e["at"] for e in seen), reverse=True)
    assert {e["source"] for e in seen} == {"api"}
    bad = api_call("GET", "/contacts/ada/history", tenant=tenant, query={"next_token": "v1.x.y"})
    assert bad.status == 400


def test_api_import_and_transfer_changes_are_recorded_with_their_source(tenant, api_call):
    categories_repo.create(tenant, "tier")
    gold = segments_repo.create(tenant, name="Gold", type="static", category="tier")
    silver = segments_repo.create(tenant, name="Silver", type="static", category="tier")
    plain = segments_repo.create(tenant, name="Plain", type="static")
    for cid in ("a", "b"):
        contacts_repo.upsert(tenant, cid, {"email": f"{cid}@example.com"})
    assert api_call("POST", f"/segments/{plain.id}/members", tenant=tenant, body={"contact_ids": ["a"]}).status == 200
    add_to_static_segment(tenant, gold, ["a", "b"])  # the importer's membership writer
    add_members(tenant, silver.id, ["b"])  # the category moves b out of gold
    transfer(tenant, gold.id, ["a"], silver.id)
    # a transfer's leave and join may share a millisecond: their order among themselves is not fixed
    of_a = changes_of(api_call, tenant, "a")
    assert set(of_a[:2]) == {(gold.id, "left", "transfer"), (silver.id, "joined", "transfer")}
    assert of_a[2:] == [(gold.id, "joined", "import"), (plain.id, "joined", "api")]
    of_b = changes_of(api_call, tenant, "b")
    assert set(of_b[:2]) == {(silver.id, "joined", "api"), (gold.id, "left", "api")}
    assert of_b[2:] == [(gold.id, "joined", "import")]


def test_stream_changes_are_recorded_and_erasure_takes_the_history(tenant, s3, api_call):
    contacts_repo.upsert(tenant, "ada", {"score": 10})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 50})
    contact = contacts_repo.upsert(tenant, "ada", {"score": 90})
    cache = TenantCache(lambda: s3)
    apply_change(ContactChange(tenant, "ada", contact.updated_at, dict(contact.fields)), cache)
    cache.flush()
    assert changes_of(api_call, tenant, "ada") == [(high.id, "joined", "stream")]

    assert api_call("DELETE", "/contacts/ada", tenant=tenant).status == 204
    assert membership_history_repo.for_contact(tenant, "ada").items == []
    assert membership_history_repo.for_segment(tenant, high.id).items == []
    assert api_call("GET", "/contacts/ada/history", tenant=tenant).status == 404


@pytest.fixture
def history_requests(monkeypatch):
    """BatchWriteItem calls and the history entries they carry, counted at the wire."""
    table = os.environ["MEMBERSHIPS_TABLE"]
    counted: Counter = Counter()
    original = BaseClient._make_api_call  # at the wire: pynamodb's calls and raw ones alike

    def counting(self, operation, kwargs):
        if operation == "BatchWriteItem":
            counted["requests"] += 1
            for request in kwargs.get("RequestItems", {}).get(table, []):
                if "/history/" in request.get("PutRequest", {}).get("Item", {}).get("pk", {}).get("S", ""):
                    counted["entries"] += 1
        elif operation in ("PutItem", "UpdateItem", "DeleteItem") and kwargs.get("TableName") == table:
            counted["single"] += 1
        return original(self, operation, kwargs)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    return counted


def test_a_run_writes_history_in_the_membership_batches(tenant, s3, history_requests):
    for n in range(50):
        contacts_repo.upsert(tenant, f"c{n:03d}", {"score": 80})
    segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 50})
    history_requests.clear()
    run_tenant(tenant, as_of=datetime.now(UTC), s3=s3)
    assert history_requests["entries"] == 50
    assert history_requests["requests"] == 100 // 25  # memberships and their entries share requests
    assert history_requests["single"] == 0


def test_history_routes_are_tenant_isolated(tenant, api_call):
    static = segments_repo.create(tenant, name="List", type="static")
    contacts_repo.upsert(tenant, "ada", {"email": "ada@example.com"})
    add_members(tenant, static.id, ["ada"])
    from audience.storage import tenants_repo

    tenants_repo.create_tenant("intruder", "Other")
    assert api_call("GET", "/contacts/ada/history", tenant="intruder").status == 404
    assert api_call("GET", f"/segments/{static.id}/history", tenant="intruder").status == 404
    assert len(history(api_call, tenant, f"/segments/{static.id}/history")["items"]) == 1


def test_bad_since_is_422(tenant, api_call):
    static = segments_repo.create(tenant, name="List", type="static")
    answer = api_call("GET", f"/segments/{static.id}/history", tenant=tenant, query={"since": "yesterday"})
    assert answer.status == 422
    assert answer.paths() == ["?since"]


def test_entries_expire_after_the_tenants_event_retention(tenant, api_call):
    answer = api_call("PUT", "/settings/events", tenant=tenant, body={"retention_days": 30})
    assert answer.status == 200, answer.text
    membership_history_repo._RETENTION.pop(tenant, None)  # a new setting reaches entries within a minute
    static = segments_repo.create(tenant, name="List", type="static")
    contacts_repo.upsert(tenant, "ada", {"email": "ada@example.com"})
    add_members(tenant, static.id, ["ada"])

    [entry] = membership_history_repo.HistoryEntryItem.query(membership_history_repo.history_pk(tenant, static.id))
    written = datetime.fromisoformat(entry.sk.split("#", 1)[0].replace("Z", "+00:00"))  # the key spells ``at``
    assert timedelta(days=30) - timedelta(seconds=1) <= entry.ttl - written <= timedelta(days=30)


def test_entries_with_and_without_the_key_attributes_answer_alike(tenant, api_call):
    """Entries written before the keys were read instead (with ``segment_id``, ``contact_id``,
    ``change`` and ``at`` stored as attributes) and entries written now list the same way."""
    from audience.storage.membership_history_repo import Cause, HistoryEntryItem, contact_history_pk, history_pk

    at_old, at_new = "2026-12-01T10:00:00.000Z", "2026-12-02T10:00:00.000Z"
    HistoryEntryItem(history_pk(tenant, "s1"), f"{at_old}#c#1#joined", gsi1pk=contact_history_pk(tenant, "c#1"),
                     gsi1sk=f"{at_old}#s1#joined", segment_id="s1", contact_id="c#1", change="joined", at=at_old,
                     source="run", run_id="r1", rules_version=1).save()
    at_run = "2026-12-01T12:00:00.000Z"  # a run's entry written now: no source stored
    assert membership_history_repo.record(tenant, "s1", ["c#1"], "left", Cause("run", "r2", 2, at=at_run)) == 1
    assert membership_history_repo.record(tenant, "s1", ["c#1"], "joined", Cause("api", at=at_new)) == 1
    expected = [
        {"segment_id": "s1", "contact_id": "c#1", "change": "joined", "at": at_new, "source": "api"},
        {"segment_id": "s1", "contact_id": "c#1", "change": "left", "at": at_run, "source": "run",
         "run_id": "r2", "rules_version": 2},
        {"segment_id": "s1", "contact_id": "c#1", "change": "joined", "at": at_old, "source": "run",
         "run_id": "r1", "rules_version": 1},
    ]
    assert membership_history_repo.for_contact(tenant, "c#1").items == expected
    assert membership_history_repo.for_segment(tenant, "s1").items == expected
    assert membership_history_repo.latest_changes_since(tenant, "s1", at_old) == {"c#1": "joined"}
    assert membership_history_repo.erase_contact(tenant, "c#1") == 3
