"""Only deltas are written (every DynamoDB write to the membership table counted), and the scheduled
run respects what the real-time path (contact_stream) did since the last run."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from audience.evaluation import snapshots
from audience.evaluation.run import run_tenant
from audience.realtime.apply import TenantCache, apply_change
from audience.realtime.changes import ContactChange
from audience.storage import contacts_repo, history_repo, memberships_repo, segments_repo
from botocore.client import BaseClient

WRITES = {"PutItem", "DeleteItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems"}


@pytest.fixture
def membership_writes(monkeypatch):
    """Memberships written to MembershipsTable, counted at the wire (pynamodb's one call path); the
    history entries written in the same requests are not counted (tests/integration/trust counts them)."""
    table = os.environ["MEMBERSHIPS_TABLE"]
    counted: Counter = Counter()
    original = BaseClient._make_api_call  # at the wire: pynamodb's calls and raw ones alike

    def counting(self, operation, kwargs):
        if operation == "BatchWriteItem":
            for request in kwargs.get("RequestItems", {}).get(table, []):
                if "/history/" in request.get("PutRequest", {}).get("Item", {}).get("pk", {}).get("S", ""):
                    continue
                counted["put" if "PutRequest" in request else "delete"] += 1
        elif operation in WRITES and kwargs.get("TableName") == table:
            counted[operation] += 1
        return original(self, operation, kwargs)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    return counted


def members(tenant: str, segment_id: str) -> set[str]:
    return set(memberships_repo.iter_members(tenant, segment_id))


def now() -> datetime:
    return datetime.now(UTC)


def test_one_percent_churn_writes_only_the_changed_memberships(tenant, s3, membership_writes):
    for n in range(200):
        contacts_repo.upsert(tenant, f"c{n:03d}", {"score": 80})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 50})
    run_tenant(tenant, as_of=now(), s3=s3)
    assert membership_writes["put"] == 200
    membership_writes.clear()

    contacts_repo.upsert(tenant, "c007", {"score": 10})  # one leaves, one joins: 1% of 200
    contacts_repo.upsert(tenant, "new", {"score": 90})
    result = run_tenant(tenant, as_of=now(), s3=s3)

    assert dict(membership_writes) == {"put": 1, "delete": 1}
    assert result.changes[high.id] == {"added": 1, "removed": 1}
    assert result.segments[high.id] == 200 == len(members(tenant, high.id))
    membership_writes.clear()
    run_tenant(tenant, as_of=now(), s3=s3)
    assert dict(membership_writes) == {}  # nothing changed, nothing written


def stream(tenant: str, contact_id: str, s3) -> None:
    """Deliver the contact's current image to the real-time path, as contact_stream would."""
    contact = contacts_repo.get(tenant, contact_id)
    cache = TenantCache(lambda: s3)
    apply_change(ContactChange(tenant, contact_id, contact.updated_at, dict(contact.fields)), cache)
    cache.flush()


def test_run_undoes_a_stream_decision_it_disagrees_with_and_does_not_recount_the_others(tenant, s3):
    for n in range(6):
        contacts_repo.upsert(tenant, f"c{n}", {"score": 10 * n})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 30})
    run_tenant(tenant, as_of=now(), s3=s3)
    assert members(tenant, high.id) == {"c3", "c4", "c5"}

    contacts_repo.upsert(tenant, "c0", {"score": 99})
    stream(tenant, "c0", s3)  # delivered: c0 joins through the stream
    contacts_repo.upsert(tenant, "c1", {"score": 99})
    stream(tenant, "c1", s3)  # delivered ...
    contacts_repo.upsert(tenant, "c1", {"score": 1})  # ... but this change's record is lost
    assert members(tenant, high.id) == {"c0", "c1", "c3", "c4", "c5"}
    today = now().date().isoformat()
    [before] = history_repo.range(tenant, high.id, today, today)

    result = run_tenant(tenant, as_of=now(), s3=s3)

    assert members(tenant, high.id) == {"c0", "c3", "c4", "c5"}  # c1 undone, c0 kept without a write
    assert result.changes[high.id] == {"added": 0, "removed": 1}
    assert segments_repo.get(tenant, high.id).member_count == 4
    [after] = history_repo.range(tenant, high.id, today, today)
    assert (after.added - before.added, after.removed - before.removed, after.total) == (0, 1, 4)


def test_run_leaves_contacts_the_stream_changed_after_its_snapshot_alone(tenant, s3, monkeypatch):
    for n in range(4):
        contacts_repo.upsert(tenant, f"c{n}", {"score": 10 * n})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 20})
    run_tenant(tenant, as_of=now(), s3=s3)
    assert members(tenant, high.id) == {"c2", "c3"}
    contacts_repo.upsert(tenant, "c0", {"score": 90})
    contacts_repo.upsert(tenant, "c3", {"score": 0})
    cut_before = snapshots.build_snapshot(tenant, s3)  # the next run's snapshot sees c0 in, c3 out ...
    contacts_repo.upsert(tenant, "c0", {"score": 0})  # ... then both change back, applied by the stream
    contacts_repo.upsert(tenant, "c3", {"score": 30})
    stream(tenant, "c0", s3)
    stream(tenant, "c3", s3)
    monkeypatch.setattr(snapshots, "build_snapshot", lambda *a, **k: cut_before)

    result = run_tenant(tenant, as_of=now(), s3=s3)

    assert members(tenant, high.id) == {"c2", "c3"}  # the older snapshot did not undo the stream
    assert result.changes[high.id] == {"added": 0, "removed": 0}
    assert result.segments[high.id] == 2 == segments_repo.get(tenant, high.id).member_count
    monkeypatch.undo()
    run_tenant(tenant, as_of=now() + timedelta(seconds=1), s3=s3)  # a fresh snapshot agrees
    assert members(tenant, high.id) == {"c2", "c3"}
    assert segments_repo.get(tenant, high.id).member_count == 2


def test_state_is_kept_sorted_so_the_next_diff_is_the_fast_one(tenant, s3, aws, monkeypatch):
    """Shards and a delta make a pass yield runs of sorted ids; the state is written sorted (a string
    diff of it, as trust's what-if makes, is the fast one) with its contact keys, and the next run's
    diff, on those keys, writes the same deltas as plain set arithmetic."""
    from audience.evaluation import changes, keyed, state

    monkeypatch.setattr(snapshots, "ROWS_PER_FILE", 10)
    monkeypatch.setattr(snapshots, "WATERMARK_OVERLAP", timedelta(0))
    for n in range(60):
        contacts_repo.upsert(tenant, f"c{n:03d}", {"score": 80 if n % 3 else 10})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 50})
    run_tenant(tenant, as_of=now(), s3=s3, shards=3)
    contacts_repo.upsert(tenant, "c001", {"score": 10})
    contacts_repo.upsert(tenant, "c003", {"score": 90})
    contacts_repo.upsert(tenant, "b00", {"score": 90})  # sorts before every base file's ids, read from the delta
    sorted_diffs = []
    plain = changes.diff

    def recording(previous, current):
        sorted_diffs.append(changes.is_strictly_sorted(previous) and changes.is_strictly_sorted(current))
        return plain(previous, current)

    monkeypatch.setattr(changes, "diff", recording)
    keyed_diffs = []
    plain_keyed = keyed.diff
    monkeypatch.setattr(keyed, "diff", lambda *args: keyed_diffs.append(1) or plain_keyed(*args))
    run_tenant(tenant, as_of=now(), s3=s3, shards=3)

    kept = state.read_state(tenant, high.id, s3, aws.env()["DATA_BUCKET"]).members.to_pylist()
    expected = sorted({f"c{n:03d}" for n in range(60) if n % 3} - {"c001"} | {"c003", "b00"})
    assert kept == expected
    assert members(tenant, high.id) == set(expected)
    assert sorted_diffs == [] and keyed_diffs == [1]  # the state kept contact keys: the diff is on integers
