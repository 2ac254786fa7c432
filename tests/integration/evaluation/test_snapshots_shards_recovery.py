"""Snapshots (incremental, compaction, full rebuild), k shards == one shard, crash-and-rerun convergence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from audience.evaluation import shards, snapshots, state
from audience.evaluation.run import build_plan, run_tenant
from audience.fields import DEFAULT_CATALOG
from audience.storage import contacts_repo, memberships_repo, segments_repo

AS_OF = datetime(2024, 6, 1, 12, tzinfo=UTC)


def live_ids(tenant, s3, manifest) -> list[str]:
    batches = snapshots.iter_batches(manifest, s3, DEFAULT_CATALOG)
    return sorted(id_ for b in batches for id_ in b.column("contact_id").to_pylist())


def test_incremental_snapshot_adds_changes_and_erasures_then_compacts(tenant, s3, aws, monkeypatch):
    bucket = aws.env()["DATA_BUCKET"]
    for n in range(6):
        contacts_repo.upsert(tenant, f"c{n}", {"score": n})
    first = snapshots.build_snapshot(tenant, s3)
    assert first.contact_count == 6 and first.delta is None
    contacts_repo.upsert(tenant, "c1", {"score": 100})
    contacts_repo.erase(tenant, "c2")
    contacts_repo.upsert(tenant, "new", {"score": 7})

    second = snapshots.build_snapshot(tenant, s3)

    assert second.files == first.files and second.delta is not None  # base files reused, only a delta
    assert second.contact_count == 6
    assert live_ids(tenant, s3, second) == ["c0", "c1", "c3", "c4", "c5", "new"]
    scores = {r["contact_id"]: r["score"] for b in snapshots.iter_batches(second, s3, DEFAULT_CATALOG)
              for r in b.to_pylist()}
    assert scores["c1"] == 100
    assert snapshots.latest_manifest(tenant, s3).snapshot_id == second.snapshot_id

    monkeypatch.setattr(snapshots, "COMPACT_MIN_ROWS", 0)
    contacts_repo.upsert(tenant, "c3", {"score": 33})
    third = snapshots.build_snapshot(tenant, s3)
    assert third.delta is None and third.files != first.files  # folded into fresh base files
    assert live_ids(tenant, s3, third) == ["c0", "c1", "c3", "c4", "c5", "new"]
    assert snapshots.read_manifest(tenant, first.snapshot_id, s3, bucket).contact_count == 6  # old one intact

    rebuilt = snapshots.build_snapshot(tenant, s3, full=True)
    assert live_ids(tenant, s3, rebuilt) == live_ids(tenant, s3, third)


def test_k_shards_give_exactly_the_one_shard_answer(tenant, s3, aws, monkeypatch):
    bucket = aws.env()["DATA_BUCKET"]
    monkeypatch.setattr(snapshots, "ROWS_PER_FILE", 7)  # several base files
    for n in range(40):
        contacts_repo.upsert(tenant, f"c{n:02d}", {"score": n, "country": ["DE", "FR", "US"][n % 3]})
    static = segments_repo.create(tenant, name="Static", type="static", category="tier")
    memberships_repo.add_many(tenant, static.id, ["c00", "c03", "c06"], source="static", category="tier")
    high = segments_repo.create(tenant, name="High", type="dynamic", category="tier", priority=1,
                                rules={"field": "score", "op": "gte", "value": 20})
    segments_repo.create(tenant, name="German", type="dynamic", category="tier", priority=2,
                         rules={"field": "country", "op": "eq", "value": "DE"})
    segments_repo.create(tenant, name="High or static", type="dynamic",
                         rules={"any": [{"segment": high.id}, {"segment": static.id}]}, references=[high.id, static.id])
    snapshots.build_snapshot(tenant, s3)
    contacts_repo.upsert(tenant, "late", {"score": 50, "country": "DE"})  # lands in the delta
    manifest = snapshots.build_snapshot(tenant, s3)
    assert len(manifest.files) >= 5 and manifest.delta
    plan, failures = build_plan(tenant, DEFAULT_CATALOG, AS_OF, manifest, s3, bucket)
    assert failures == {}

    one = shards.evaluate_sharded(plan, manifest, s3, 1, bucket=bucket)
    for k in (2, 3, 10):
        split = shards.split(manifest, k)
        assert sorted(f for s in split for f in s.files) == sorted(f["key"] for f in manifest.files)
        many = shards.evaluate_sharded(plan, manifest, s3, k, bucket=bucket)
        assert {sid: sorted(ids.to_pylist()) for sid, ids in many.items()} == {
            sid: sorted(ids.to_pylist()) for sid, ids in one.items()}
    assert "late" in one[high.id].to_pylist()
    assert not set(one[high.id].to_pylist()) & {"c00", "c03", "c06"}  # static placement first


class Crash(BaseException):
    """A Lambda dying half-way (not an ordinary error the run would catch per segment)."""


def test_run_that_dies_half_way_converges_when_run_again(tenant, s3, aws, monkeypatch):
    bucket = aws.env()["DATA_BUCKET"]
    for n in range(12):
        contacts_repo.upsert(tenant, f"c{n:02d}", {"score": n})
    low = segments_repo.create(tenant, name="Low", type="dynamic", rules={"field": "score", "op": "lt", "value": 6})
    high = segments_repo.create(tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 6})
    run_tenant(tenant, as_of=AS_OF, s3=s3)
    for n in (0, 1, 7):
        contacts_repo.upsert(tenant, f"c{n:02d}", {"score": 100 - n})  # two move low -> high
    calls = []
    original = state.write_state

    def dying(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise Crash()  # memberships of the second segment written, its state not
        return original(*args, **kwargs)

    monkeypatch.setattr(state, "write_state", dying)
    with pytest.raises(Crash):
        run_tenant(tenant, as_of=AS_OF + timedelta(hours=1), s3=s3)
    monkeypatch.setattr(state, "write_state", original)

    run_tenant(tenant, as_of=AS_OF + timedelta(hours=2), s3=s3)

    expected_low = {f"c{n:02d}" for n in range(2, 6)}
    expected_high = {f"c{n:02d}" for n in range(6, 12)} | {"c00", "c01"}
    assert set(memberships_repo.iter_members(tenant, low.id)) == expected_low
    assert set(memberships_repo.iter_members(tenant, high.id)) == expected_high
    assert segments_repo.get(tenant, low.id).member_count == 4
    assert segments_repo.get(tenant, high.id).member_count == 8
    assert sorted(state.read_state(tenant, high.id, s3, bucket).members.to_pylist()) == sorted(expected_high)


def test_old_snapshots_are_pruned_but_files_newer_ones_share_are_kept(tenant, s3, aws, monkeypatch):
    bucket = aws.env()["DATA_BUCKET"]
    monkeypatch.setattr(snapshots, "KEEP_SNAPSHOTS", 2)
    for n in range(5):
        contacts_repo.upsert(tenant, f"c{n}", {"score": n})
    first = snapshots.build_snapshot(tenant, s3)
    built = [first]
    for n in range(3):
        contacts_repo.upsert(tenant, f"c{n}", {"score": 50 + n})
        built.append(snapshots.build_snapshot(tenant, s3))
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"tenants/{tenant}/snapshots/")["Contents"]
    keys = {item["Key"] for item in listed}

    folders = {key.split("/")[3] for key in keys if key.count("/") > 3}
    assert folders == {first.snapshot_id, built[2].snapshot_id, built[3].snapshot_id}
    assert {f["key"] for f in first.files} <= keys  # the base files every later snapshot still lists
    assert f"tenants/{tenant}/snapshots/{first.snapshot_id}/manifest.json" not in keys
    assert f"tenants/{tenant}/snapshots/{built[1].snapshot_id}/delta.parquet" not in keys
    assert live_ids(tenant, s3, snapshots.latest_manifest(tenant, s3)) == [f"c{n}" for n in range(5)]


def test_a_changed_field_catalog_makes_the_next_snapshot_a_full_one(tenant, s3):
    from audience.storage import fields_repo

    contacts_repo.upsert(tenant, "c0", {"score": 1})
    first = snapshots.build_snapshot(tenant, s3)
    fields_repo.create(tenant, "plan", "string")
    contacts_repo.upsert(tenant, "c1", {"plan": "pro"})

    second = snapshots.build_snapshot(tenant, s3)

    assert second.delta is None and not {f["key"] for f in second.files} & {f["key"] for f in first.files}
    assert second.fields["plan"] == "string"
    catalog = fields_repo.catalog(tenant)
    rows = [r for b in snapshots.iter_batches(second, s3, catalog) for r in b.to_pylist()]
    assert {r["contact_id"]: r["plan"] for r in rows} == {"c0": None, "c1": "pro"}


class CountingS3:
    """The S3 client, counting the bytes of object bodies fetched."""

    def __init__(self, client):
        self.client, self.fetched = client, 0
        self.exceptions = client.exceptions

    def get_object(self, **kwargs):
        answer = self.client.get_object(**kwargs)
        body = answer["Body"].read()
        self.fetched += len(body)
        return {**answer, "Body": __import__("io").BytesIO(body)}

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_a_pass_fetches_only_the_columns_its_rules_read(tenant, s3, aws, monkeypatch):
    import secrets

    import pyarrow as pa

    bucket = aws.env()["DATA_BUCKET"]
    monkeypatch.setattr(snapshots, "RANGED_MIN_BYTES", 0)
    rows = 20_000
    table = pa.table({"contact_id": [f"c{n:05d}" for n in range(rows)], "score": [float(n) for n in range(rows)],
                      "company": [secrets.token_hex(40) for _ in range(rows)]})  # incompressible bulk
    key = f"tenants/{tenant}/snapshots/test/contacts-00000.parquet"
    s3.put_object(Bucket=bucket, Key=key, Body=snapshots._parquet_bytes(table))
    everything, narrow = CountingS3(s3), CountingS3(s3)

    whole = snapshots.read_columns(everything, bucket, {"key": key}, None)
    scores = snapshots.read_columns(narrow, bucket, {"key": key}, ["contact_id", "score", "not_in_file"])

    assert whole.equals(table) and scores.equals(table.select(["contact_id", "score"]))
    assert narrow.fetched * 3 < everything.fetched


def test_low_cardinality_strings_are_read_dictionary_encoded_with_the_same_answers(tenant, s3, aws, monkeypatch):
    """The run reads strings of few distinct values as Parquet stores them (dictionary-encoded); the
    rows and the members are those of plain reads."""
    monkeypatch.setattr(snapshots, "ROWS_PER_FILE", 50)
    monkeypatch.setattr(snapshots, "DICTIONARY_SHARE", 0.25)  # at most 12 distinct values in a file of 50, 5 of 20
    monkeypatch.setattr(snapshots, "WATERMARK_OVERLAP", timedelta(0))  # the delta: only the contact changed
    countries = ["DE", "fr", "US", None, ""]
    for n in range(120):
        contacts_repo.upsert(tenant, f"c{n:03d}", {"country": countries[n % 5], "first_name": f"name{n}",
                                                   "score": n})
    manifest = snapshots.build_snapshot(tenant, s3)
    contacts_repo.upsert(tenant, "c007", {"country": "Fr"})  # in the delta: read plain
    manifest = snapshots.build_snapshot(tenant, s3)
    assert [entry["dictionary"] for entry in manifest.files] == [["country"]] * 3  # names: one per contact
    assert manifest.delta["rows"] < 5

    columns = ["country", "first_name", "score"]
    encoded = list(snapshots.iter_batches(manifest, s3, DEFAULT_CATALOG, columns=columns, dictionary=True))
    plain = list(snapshots.iter_batches(manifest, s3, DEFAULT_CATALOG, columns=columns))
    assert str(encoded[0].schema.field("country").type) == "dictionary<values=string, indices=int32, ordered=0>"
    assert str(encoded[0].schema.field("first_name").type) == "string"
    assert all(b.schema.field("country").type == "string" for b in plain)
    assert [r for b in encoded for r in b.to_pylist()] == [r for b in plain for r in b.to_pylist()]

    french = segments_repo.create(tenant, name="French", type="dynamic",
                                  rules={"any": [{"field": "country", "op": "eq", "value": "FR"},
                                                 {"field": "country", "op": "is_empty"}]})
    plan, failures = build_plan(tenant, DEFAULT_CATALOG, AS_OF, manifest, s3, aws.env()["DATA_BUCKET"])
    assert not failures
    everything = shards.Shard(0, tuple(f["key"] for f in manifest.files), include_delta=True)
    members = sorted(shards.evaluate_shard(plan, manifest, everything, s3)[french.id].to_pylist())
    assert members == sorted(f"c{n:03d}" for n in range(120) if n % 5 in (1, 3, 4) or n == 7)
