"""k shards == one shard with activity rules: each shard reads only its own contacts' events (the id
range of its base files, plus the delta's ids), and together they give the one-shard answer."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from audience.evaluation import shards, snapshots
from audience.evaluation.run import build_plan
from audience.eventlog import LogEvents, append_events, compact, events_table, reading
from audience.fields import DEFAULT_CATALOG
from audience.rules.vectorised import EventsWanted
from audience.storage import contacts_repo, segments_repo

AS_OF = datetime(2024, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("dictionary", [False, True], ids=["plain", "dictionary-encoded"])
def test_k_shards_with_events_give_exactly_the_one_shard_answer(tenant, s3, aws, monkeypatch, dictionary):
    """``dictionary``: the log's contact ids and properties read dictionary-encoded (as from large
    parts, `reading.dictionary_columns`) or plain; a shard's id ranges are filtered either way."""
    bucket = aws.env()["DATA_BUCKET"]
    monkeypatch.setattr(snapshots, "ROWS_PER_FILE", 7)  # several base files
    monkeypatch.setattr(reading, "DICTIONARY_SHARE", 1e9 if dictionary else 0.0)
    rng = random.Random(5)
    ids = [f"c{n:02d}" for n in range(40)]
    for n, contact_id in enumerate(ids):
        contacts_repo.upsert(tenant, contact_id, {"score": n})
    rows = [(rng.choice([*ids, "late"]), rng.choice(["open", "purchase"]),
             AS_OF - timedelta(days=rng.randrange(60), hours=rng.randrange(24)), {"amount": str(rng.randrange(20))})
            for _ in range(400)]
    append_events(tenant, events_table(rows[:300]), s3, "first", bucket)
    compact(tenant, s3, bucket=bucket, now=AS_OF)
    append_events(tenant, events_table(rows[300:]), s3, "second", bucket)  # still incoming
    segments_repo.create(tenant, name="Openers", type="dynamic", rules={"event": "open", "within_last_days": 14})
    segments_repo.create(tenant, name="Spenders", type="dynamic", rules={"all": [
        {"field": "score", "op": "gte", "value": 5},
        {"event": "purchase", "aggregate": {"fn": "sum", "field": "amount", "op": "gte", "value": 25}}]})
    snapshots.build_snapshot(tenant, s3)
    contacts_repo.upsert(tenant, "late", {"score": 50})  # lands in the delta
    manifest = snapshots.build_snapshot(tenant, s3)
    assert len(manifest.files) >= 5 and manifest.delta
    plan, failures = build_plan(tenant, DEFAULT_CATALOG, AS_OF, manifest, s3, bucket)
    assert failures == {} and isinstance(plan.events, LogEvents)

    first = shards.split(manifest, 3)[0]
    narrowed = shards.shard_events(plan, manifest, first, s3, bucket)
    assert narrowed.low == "c00" and narrowed.high < "c39" and narrowed.also is None
    assert len(narrowed.ranges) == len(first.files) > 1  # the shard's own files' ranges, not what lies between
    wanted = EventsWanted(frozenset({"open", "purchase"}), True, None, AS_OF)
    read = {c for ids in narrowed.fold(wanted, lambda streams: [b.column(0).to_pylist() for s in streams for b in s])
            for c in ids}
    assert read and all(any(low <= c <= high for low, high in narrowed.ranges) for c in read)

    one = shards.evaluate_sharded(plan, manifest, s3, 1, bucket=bucket)
    assert all(len(ids) for ids in one.values())
    assert any("late" in ids.to_pylist() for ids in one.values())
    for k in (2, 3, 10):
        many = shards.evaluate_sharded(plan, manifest, s3, k, bucket=bucket)
        assert {sid: sorted(ids.to_pylist()) for sid, ids in many.items()} == {
            sid: sorted(ids.to_pylist()) for sid, ids in one.items()}
