"""The stable integer contact key (``snapshots.KEY``): given when a contact first enters a snapshot,
kept by incremental snapshots, compactions and catalog rewrites; erased contacts leave holes that
only a full rebuild (a new key space) closes."""

from __future__ import annotations

import uuid

import numpy as np
from audience.evaluation import key_directory, snapshots
from audience.fields import DEFAULT_CATALOG, FieldCatalog, FieldType
from audience.storage import contacts_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

IDS = [f"c{n}" for n in range(6)]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), st.sampled_from(IDS), st.integers(0, 9)),
        st.tuples(st.just("erase"), st.sampled_from(IDS)),
        st.tuples(st.sampled_from(["snapshot", "compact", "rebuild", "catalog"])),
    ),
    min_size=1,
    max_size=10,
)


def keyed_snapshot(manifest, s3, catalog=DEFAULT_CATALOG) -> dict[str, int]:
    found: dict[str, int] = {}
    for batch in snapshots.iter_batches(manifest, s3, catalog, columns=["contact_id"], keys=True):
        found.update(zip(batch.column("contact_id").to_pylist(), batch.column(snapshots.KEY).to_pylist(),
                         strict=True))
    return found


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=steps)
def test_contact_keys_survive_snapshots_compaction_and_erasure(drawn, aws, s3, monkeypatch):
    tenant = f"t{uuid.uuid4().hex[:12]}"  # a fresh tenant per example in the one moto session
    catalog = DEFAULT_CATALOG
    live: set[str] = set()
    erased: set[str] = set()
    given_keys: dict[str, int] = {}  # id -> key, in the current key space
    owners: dict[int, str] = {}  # key -> the one contact it was ever given, in the current key space
    key_space = None
    for step in [*drawn, ("snapshot",)]:
        kind = step[0]
        if kind == "upsert" and step[1] not in erased:
            contacts_repo.upsert(tenant, step[1], {"score": step[2]})
            live.add(step[1])
            continue
        if kind == "erase":
            if step[1] in live and contacts_repo.erase(tenant, step[1]):
                live.discard(step[1])
                erased.add(step[1])
            continue
        if kind == "catalog":
            catalog = FieldCatalog({**catalog.custom, f"extra{len(catalog.custom)}": FieldType.STRING})
        if kind not in ("snapshot", "compact", "rebuild", "catalog"):
            continue
        with monkeypatch.context() as patched:
            if kind == "compact":
                patched.setattr(snapshots, "COMPACT_MIN_ROWS", 0)
                patched.setattr(snapshots, "COMPACT_SHARE", 0.0)
            manifest = snapshots.build_snapshot(tenant, s3, full=kind == "rebuild", catalog=catalog)
        found = keyed_snapshot(manifest, s3, catalog)
        assert set(found) == live
        assert len(set(found.values())) == len(found), "a key is held by one contact"
        assert all(key is not None and key < manifest.next_key for key in found.values())
        if kind == "rebuild" or manifest.key_space != key_space:
            assert key_space is None or kind == "rebuild", "only a full rebuild starts a key space"
            assert sorted(found.values()) == list(range(len(found))), "a fresh key space is dense"
            key_space, given_keys, owners = manifest.key_space, {}, {}
        for contact_id, key in found.items():
            assert given_keys.setdefault(contact_id, key) == key, "a contact keeps its key"
            assert owners.setdefault(key, contact_id) == contact_id, "an erased contact's key is not reused"
        # every key the key space ever gave (erased contacts' too, compactions since or not) is named
        # by its key directory: what a keys-only state's members are read back by
        assert manifest.key_directory
        if owners:
            wanted = np.array(sorted(owners), np.int64)
            named = key_directory.ids_of(tenant, key_space, wanted, s3, aws.env()["DATA_BUCKET"]).to_pylist()
            assert named == [owners[key] for key in wanted.tolist()]


def test_keys_are_only_read_when_asked(aws, s3):
    tenant = "keys-asked"
    contacts_repo.upsert(tenant, "a", {"score": 1})
    manifest = snapshots.build_snapshot(tenant, s3)
    plain = next(snapshots.iter_batches(manifest, s3, DEFAULT_CATALOG))
    assert snapshots.KEY not in plain.schema.names
    with_keys = next(snapshots.iter_batches(manifest, s3, DEFAULT_CATALOG, keys=True))
    assert with_keys.schema.names[-1] == snapshots.KEY and with_keys.column(snapshots.KEY).to_pylist() == [0]


def test_runs_diff_on_contact_keys_and_fall_back_to_ids_in_a_new_key_space(tenant, s3, aws, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from audience.evaluation import changes, keyed, state
    from audience.evaluation.run import run_tenant
    from audience.storage import memberships_repo, segments_repo

    bucket = aws.env()["DATA_BUCKET"]
    calls = {"keys": 0, "ids": 0}
    for name, module in (("keys", keyed), ("ids", changes)):
        original = module.segment_change

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, "segment_change", counted)
    for n in range(10):
        contacts_repo.upsert(tenant, f"c{n}", {"score": n})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 5})
    moment = datetime.now(UTC)
    run_tenant(tenant, as_of=moment, s3=s3)
    assert set(memberships_repo.iter_members(tenant, high.id)) == {"c5", "c6", "c7", "c8", "c9"}
    assert calls == {"keys": 0, "ids": 1}  # no kept keys yet: the string diff, and the keys are kept

    contacts_repo.upsert(tenant, "c5", {"score": 0})
    contacts_repo.upsert(tenant, "c2", {"score": 9})
    contacts_repo.upsert(tenant, "late", {"score": 6})
    contacts_repo.erase(tenant, "c9")
    result = run_tenant(tenant, as_of=moment + timedelta(seconds=1), s3=s3)
    assert set(memberships_repo.iter_members(tenant, high.id)) == {"c2", "c6", "c7", "c8", "late"}
    assert calls == {"keys": 1, "ids": 1} and result.segments[high.id] == 5
    manifest = snapshots.latest_manifest(tenant, s3)
    kept = state.read_state(tenant, high.id, s3, bucket, keys=True)
    assert kept.key_space == manifest.key_space
    by_id = keyed_snapshot(manifest, s3)
    assert kept.keys_only  # the snapshot's key space has its key directory: the members kept as keys
    ids = state.member_ids(tenant, kept, s3, bucket).to_pylist()
    assert ids == ["c2", "c6", "c7", "c8", "late"]
    assert sorted(kept.key_set.keys().tolist()) == sorted(by_id[c] for c in ids)

    snapshots.build_snapshot(tenant, s3, full=True)  # a new key space: kept keys are not comparable
    contacts_repo.upsert(tenant, "c6", {"score": 1})
    run_tenant(tenant, as_of=moment + timedelta(seconds=2), s3=s3)
    assert set(memberships_repo.iter_members(tenant, high.id)) == {"c2", "c7", "c8", "late"}
    assert calls == {"keys": 1, "ids": 2}
    assert state.read_state(tenant, high.id, s3, bucket, keys=True).key_space == \
        snapshots.latest_manifest(tenant, s3).key_space


def test_a_segment_referenced_from_outside_the_run_is_looked_up_by_its_kept_keys(tenant, s3, aws, monkeypatch):
    """A partial run's suppression refers to a dynamic segment outside the run: its last state is
    read with its keys and batches are looked up by key, with the answer the ids would give."""
    from datetime import UTC, datetime, timedelta

    from audience.evaluation.run import run_tenant
    from audience.rules import vectorised
    from audience.storage import memberships_repo, segments_repo, suppression_repo

    for n in range(10):
        contacts_repo.upsert(tenant, f"c{n}", {"score": n})
    blocked = segments_repo.create(tenant, name="Blocked", type="dynamic", ignore_suppression=True,
                                   rules={"field": "score", "op": "gte", "value": 8})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 5})
    suppression_repo.put(tenant, {"rules": {"segment": blocked.id}})
    moment = datetime.now(UTC)
    run_tenant(tenant, as_of=moment, s3=s3)
    assert set(memberships_repo.iter_members(tenant, high.id)) == {"c5", "c6", "c7"}
    assert set(memberships_repo.iter_members(tenant, blocked.id)) == {"c8", "c9"}

    contacts_repo.upsert(tenant, "c9", {"score": 0})  # Blocked is not re-evaluated: its kept c9 still counts
    contacts_repo.upsert(tenant, "c3", {"score": 6})
    by_id = []
    original = vectorised.SegmentEvaluator._members
    monkeypatch.setattr(vectorised.SegmentEvaluator, "_members",
                        lambda self, sid: by_id.append(sid) or original(self, sid))
    run_tenant(tenant, segment_ids=[high.id], as_of=moment + timedelta(seconds=1), s3=s3)
    assert set(memberships_repo.iter_members(tenant, high.id)) == {"c3", "c5", "c6", "c7"}
    assert by_id == []  # Blocked's members were looked up by key, never by id
