"""A run over a keyed snapshot keeps its state as keys only (``state``): the next run's diff and
writes are exactly those of a state with ids — members erased since (named by the key space's
directory, even after a compaction dropped their tombstones), a full rebuild's new key space, and
states written before (ids only; ids with keys) alike — and no run takes every member's id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from audience.evaluation import key_directory, keyed, run, snapshots, state
from audience.evaluation.run import run_tenant
from audience.storage import contacts_repo, memberships_repo, segments_repo
from audience.storage import membership_history_repo as history

HIGH = {"field": "score", "op": "gte", "value": 5}


@pytest.fixture
def bucket(aws):
    return aws.env()["DATA_BUCKET"]


@pytest.fixture
def ids_taken(monkeypatch):
    """Counts the runs' takes of every member's id (``KeyedMembers.in_order``)."""
    calls = []
    original = keyed.KeyedMembers.in_order
    monkeypatch.setattr(keyed.KeyedMembers, "in_order", lambda self: calls.append(1) or original(self))
    return calls


def seed(tenant: str, count: int = 10) -> str:
    for n in range(count):
        contacts_repo.upsert(tenant, f"c{n}", {"score": n})
    return segments_repo.create(tenant, name="High", type="dynamic", rules=HIGH).id


def run_history(tenant: str, segment_id: str, run_id: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"joined": set(), "left": set()}
    for entry in history.for_segment(tenant, segment_id, limit=500).items:
        if entry.get("run_id") == run_id:
            found[entry["change"]].add(entry["contact_id"])
    return found


def test_a_run_keeps_keys_only_and_the_next_diff_writes_exactly_the_changes(tenant, s3, bucket, ids_taken):
    high = seed(tenant)
    moment = datetime.now(UTC)
    run_tenant(tenant, as_of=moment, s3=s3, run_id="r1")
    kept = state.read_state(tenant, high, s3, bucket, keys=True)
    assert kept.keys_only and kept.members is None and kept.member_count == 5
    assert state.read_state(tenant, high, s3, bucket).members.to_pylist() == ["c5", "c6", "c7", "c8", "c9"]

    contacts_repo.upsert(tenant, "c5", {"score": 0})
    contacts_repo.upsert(tenant, "c2", {"score": 9})
    contacts_repo.upsert(tenant, "late", {"score": 6})
    contacts_repo.erase(tenant, "c9")
    ids_taken.clear()
    result = run_tenant(tenant, as_of=moment + timedelta(seconds=1), s3=s3, run_id="r2")
    assert ids_taken == []  # keyed diff, keys-only state: no member's id taken but the changed ones'
    assert result.changes[high] == {"added": 2, "removed": 2} and result.segments[high] == 5
    assert run_history(tenant, high, "r2") == {"joined": {"c2", "late"}, "left": {"c5", "c9"}}
    assert set(memberships_repo.iter_members(tenant, high)) == {"c2", "c6", "c7", "c8", "late"}
    assert state.read_state(tenant, high, s3, bucket).members.to_pylist() == ["c2", "c6", "c7", "c8", "late"]


def test_a_member_erased_before_a_compaction_is_still_removed_by_its_id(tenant, s3, bucket, monkeypatch):
    """The compaction drops the erased contact's tombstone (and key) from the snapshot: the run names
    the removed key from the key directory."""
    high = seed(tenant)
    moment = datetime.now(UTC)
    run_tenant(tenant, as_of=moment, s3=s3, run_id="r1")
    contacts_repo.erase(tenant, "c8")
    contacts_repo.upsert(tenant, "c1", {"score": 7})
    monkeypatch.setattr(snapshots, "COMPACT_MIN_ROWS", 0)
    monkeypatch.setattr(snapshots, "COMPACT_SHARE", 0.0)
    manifest = snapshots.build_snapshot(tenant, s3)
    assert manifest.delta is None  # compacted: c8's tombstone is gone from the snapshot
    assert "c8" not in snapshots.erased_in_delta(manifest, s3).to_pylist()
    result = run_tenant(tenant, as_of=moment + timedelta(seconds=1), s3=s3, run_id="r2")
    assert run_history(tenant, high, "r2") == {"joined": {"c1"}, "left": {"c8"}}
    assert result.changes[high] == {"added": 1, "removed": 1}
    assert state.read_state(tenant, high, s3, bucket).members.to_pylist() == ["c1", "c5", "c6", "c7", "c9"]


def test_a_full_rebuild_reads_the_keys_only_state_of_the_old_key_space_by_its_directory(tenant, s3, bucket):
    high = seed(tenant)
    moment = datetime.now(UTC)
    run_tenant(tenant, as_of=moment, s3=s3, run_id="r1")
    old_space = state.read_state(tenant, high, s3, bucket, keys=True).key_space
    contacts_repo.erase(tenant, "c7")
    contacts_repo.upsert(tenant, "c6", {"score": 1})
    contacts_repo.upsert(tenant, "c0", {"score": 8})
    snapshots.build_snapshot(tenant, s3, full=True)  # a new key space, numbered afresh
    assert snapshots.latest_manifest(tenant, s3).key_space != old_space
    result = run_tenant(tenant, as_of=moment + timedelta(seconds=1), s3=s3, run_id="r2")
    assert run_history(tenant, high, "r2") == {"joined": {"c0"}, "left": {"c6", "c7"}}
    assert result.changes[high] == {"added": 1, "removed": 2}
    kept = state.read_state(tenant, high, s3, bucket, keys=True)
    assert kept.keys_only and kept.key_space == snapshots.latest_manifest(tenant, s3).key_space
    assert state.member_ids(tenant, kept, s3, bucket).to_pylist() == ["c0", "c5", "c8", "c9"]


@pytest.mark.parametrize("form", ["ids only", "ids and keys"])
def test_states_written_before_keys_only_are_diffed_exactly_and_then_kept_as_keys(tenant, s3, bucket, form):
    high = seed(tenant)
    moment = datetime.now(UTC)
    run_tenant(tenant, as_of=moment, s3=s3, run_id="r1")
    manifest = snapshots.latest_manifest(tenant, s3)
    kept = state.read_state(tenant, high, s3, bucket, keys=True)
    ids = state.member_ids(tenant, kept, s3, bucket)
    keys = pa.array(sorted(kept.key_set.keys().tolist()), pa.uint32())
    by_key = dict(
        zip(
            keys.to_pylist(),
            key_directory.ids_of(tenant, manifest.key_space, keys.to_numpy(), s3, bucket).to_pylist(),
            strict=True,
        )
    )
    aligned = pa.array([k for i in ids.to_pylist() for k, v in by_key.items() if v == i], pa.uint32())
    if form == "ids only":
        state.write_state(tenant, high, ids, s3, bucket, cut=kept.cut)
    else:
        state.write_state(tenant, high, ids, s3, bucket, cut=kept.cut, keys=aligned, key_space=manifest.key_space)
    contacts_repo.erase(tenant, "c9")
    contacts_repo.upsert(tenant, "c3", {"score": 5})
    result = run_tenant(tenant, as_of=moment + timedelta(seconds=1), s3=s3, run_id="r2")
    assert run_history(tenant, high, "r2") == {"joined": {"c3"}, "left": {"c9"}}
    assert result.changes[high] == {"added": 1, "removed": 1}
    assert state.read_state(tenant, high, s3, bucket, keys=True).keys_only
    assert state.read_state(tenant, high, s3, bucket).members.to_pylist() == ["c3", "c5", "c6", "c7", "c8"]


def test_a_key_space_without_its_directory_keeps_ids_until_a_build_records_every_key(tenant, s3, bucket, monkeypatch):
    """A key space numbered before the directory: runs over it keep ids with keys; the next build
    records every key it holds (erased ones of its delta too), and runs then keep keys only."""
    high = seed(tenant)
    manifest = snapshots.build_snapshot(tenant, s3)
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=key_directory.prefix(tenant, manifest.key_space)
    ):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    document = {k: v for k, v in manifest.__dict__.items() if k != "key_directory"}  # as written before it
    s3.put_object(
        Bucket=bucket,
        Key=f"{snapshots.snapshots_prefix(tenant)}{manifest.snapshot_id}/manifest.json",
        Body=json.dumps(document).encode(),
    )
    old = snapshots.latest_manifest(tenant, s3)
    assert not old.key_directory
    with monkeypatch.context() as patched:  # this run over the old snapshot as it is
        patched.setattr(run.snapshots, "build_snapshot", lambda *args, **kwargs: old)
        moment = datetime.now(UTC)
        run_tenant(tenant, as_of=moment, s3=s3, run_id="r1")
    kept = state.read_state(tenant, high, s3, bucket, keys=True)
    assert not kept.keys_only and kept.members.to_pylist() == ["c5", "c6", "c7", "c8", "c9"]

    contacts_repo.erase(tenant, "c6")
    after = snapshots.build_snapshot(tenant, s3)
    assert after.key_directory and after.key_space == manifest.key_space
    assert (
        key_directory.ids_of(tenant, after.key_space, kept.keys.to_numpy(), s3, bucket).to_pylist()
        == kept.members.to_pylist()
    )
    result = run_tenant(tenant, as_of=moment + timedelta(seconds=1), s3=s3, run_id="r2")
    assert run_history(tenant, high, "r2") == {"joined": set(), "left": {"c6"}}
    assert result.changes[high] == {"added": 0, "removed": 1}
    assert state.read_state(tenant, high, s3, bucket, keys=True).keys_only
