"""Appends, compaction (idempotent, crash-safe, racing appends and other compactions), retention and
readers meeting a compaction, on moto S3."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from audience.eventlog import EventQuery, LogEvents, append_events, compact, events_table, read_events
from audience.eventlog import compaction as compaction_module
from audience.eventlog import reading as reading_module
from audience.eventlog.compaction import CompactionConflict
from audience.eventlog.layout import load_manifest
from audience.rules.activity_slices import UnsortedStream
from audience.rules.vectorised import EventsWanted

from tests.integration.eventlog.conftest import BUCKET

NOW = datetime(2025, 6, 15, 12, tzinfo=UTC)
TENANT = "acme"


def batch(seed: int, size: int = 50, days: int = 120) -> list[tuple]:
    rng = random.Random(seed)
    return [(f"c{rng.randrange(40):03d}", rng.choice(["open", "click", "purchase"]),
             NOW - timedelta(days=rng.randrange(days), minutes=rng.randrange(1440)), {"amount": str(rng.randrange(9))})
            for _ in range(size)]


def append(s3, seed: int, **kwargs) -> list[tuple]:
    rows = batch(seed, **kwargs)
    append_events(TENANT, events_table(rows), s3, f"batch-{seed}", BUCKET)
    return rows


def keys(s3) -> list[str]:
    found = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"tenants/{TENANT}/eventlog/").get("Contents", [])
    return sorted(item["Key"] for item in found)


def logged(s3, **kwargs) -> list[tuple]:
    table = read_events(TENANT, s3, bucket=BUCKET, **kwargs)
    return sorted((r["contact_id"], r["event"], r["occurred_at"], tuple(r["properties"])) for r in table.to_pylist())


def expected(rows: list[tuple]) -> list[tuple]:
    return sorted((c, e, t, tuple(p.items())) for c, e, t, p in rows)


def test_an_append_writes_one_object_whatever_days_its_events_span(s3):
    rows = append(s3, 1, size=500, days=120)
    assert len({r[2].date() for r in rows}) > 60
    assert keys(s3) == [f"tenants/{TENANT}/eventlog/incoming/batch-1.parquet"]
    assert logged(s3) == expected(rows)


def test_a_hundred_batches_compact_into_few_month_parts_sorted_by_contact(s3):
    rows = [row for seed in range(100) for row in append(s3, seed)]
    result = compact(TENANT, s3, bucket=BUCKET, now=NOW)
    assert result.merged_batches == 100 and result.events_merged == len(rows)
    found = keys(s3)
    assert len(found) <= 16
    assert not [k for k in found if "/incoming/" in k]
    manifest = load_manifest(TENANT, s3, BUCKET)
    assert sorted({p.month for p in manifest.parts}) == ["2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    for part in manifest.parts:
        table = pq.read_table(pa.BufferReader(s3.get_object(Bucket=BUCKET, Key=part.key)["Body"].read()))
        order = list(zip(table["contact_id"].to_pylist(), table["occurred_at"].to_pylist(), strict=True))
        assert order == sorted(order)
        assert {t.strftime("%Y-%m") for _, t in order} == {part.month}
        assert (part.min_contact, part.max_contact) == (order[0][0], order[-1][0])
    assert logged(s3) == expected(rows)


def test_a_month_is_merged_slice_by_slice_into_parts_cut_between_contacts(s3, monkeypatch):
    monkeypatch.setattr(compaction_module, "MERGE_ROWS", 40)  # a month never held whole: slices of ~40 events
    written: list[int] = []
    original = compaction_module._PartWriter.write

    def spy(self, table):
        written.append(table.num_rows)
        original(self, table)

    monkeypatch.setattr(compaction_module._PartWriter, "write", spy)
    rows = [row for seed in range(20) for row in append(s3, seed, days=20)]
    compact(TENANT, s3, bucket=BUCKET, now=NOW, part_bytes=2_000)  # tiny parts: a month cut into several
    assert len(written) > 10 and max(written) <= 40 + 20 * 50  # a slice: ~40 rows plus one batch per input
    parts = load_manifest(TENANT, s3, BUCKET).parts
    assert len(parts) > len({p.month for p in parts})
    for month in {p.month for p in parts}:
        ranges = sorted((p.min_contact, p.max_contact) for p in parts if p.month == month)
        assert all(high < low for (_, high), (low, _) in zip(ranges, ranges[1:], strict=False))  # disjoint
    for part in parts:
        table = pq.read_table(pa.BufferReader(s3.get_object(Bucket=BUCKET, Key=part.key)["Body"].read()))
        order = list(zip(table["contact_id"].to_pylist(), table["occurred_at"].to_pylist(), strict=True))
        assert order == sorted(order) and part.rows == len(order)
    assert logged(s3) == expected(rows)
    more = append(s3, 99, days=20)  # parts still small: merged again with the new batch, nothing lost
    compact(TENANT, s3, bucket=BUCKET, now=NOW, part_bytes=2_000)
    assert logged(s3) == expected(rows + more)


def test_compaction_is_idempotent(s3):
    rows = append(s3, 1) + append(s3, 2)
    compact(TENANT, s3, bucket=BUCKET, now=NOW)
    before = keys(s3)
    again = compact(TENANT, s3, bucket=BUCKET, now=NOW)
    assert not again.changed and again.parts_written == [] and keys(s3) == before
    assert logged(s3) == expected(rows)


def test_a_batch_delivered_again_after_compaction_is_not_counted_twice(s3):
    rows = append(s3, 1)
    compact(TENANT, s3, bucket=BUCKET, now=NOW)
    append(s3, 1)  # the same batch id, re-delivered
    assert logged(s3) == expected(rows)
    compact(TENANT, s3, bucket=BUCKET, now=NOW)
    assert logged(s3) == expected(rows)
    assert not [k for k in keys(s3) if "/incoming/" in k]


class Crash(BaseException):
    """A Lambda dying half-way."""


def test_a_crash_before_the_manifest_swap_loses_nothing_and_its_parts_are_cleaned_up(s3, monkeypatch):
    rows = append(s3, 1) + append(s3, 2)
    with monkeypatch.context() as patched:
        patched.setattr(compaction_module, "_swap", lambda *a, **k: (_ for _ in ()).throw(Crash()))
        with pytest.raises(Crash):
            compact(TENANT, s3, bucket=BUCKET, now=NOW)
    assert logged(s3) == expected(rows)  # the new parts are named by no manifest: unread
    monkeypatch.setattr(compaction_module, "GRACE", timedelta(seconds=-60))  # the orphans are old enough
    compact(TENANT, s3, bucket=BUCKET, now=NOW)
    named = {p.key for p in load_manifest(TENANT, s3, BUCKET).parts}
    assert {k for k in keys(s3) if "/parts/" in k} == named
    assert logged(s3) == expected(rows)


def test_a_crash_after_the_swap_before_the_deletes_is_finished_by_the_next_compaction(s3, monkeypatch):
    rows = append(s3, 1) + append(s3, 2)
    with monkeypatch.context() as patched:
        patched.setattr(compaction_module, "_delete", lambda *a, **k: (_ for _ in ()).throw(Crash()))
        with pytest.raises(Crash):
            compact(TENANT, s3, bucket=BUCKET, now=NOW)
    assert [k for k in keys(s3) if "/incoming/" in k]  # still there, but merged: skipped by readers
    assert logged(s3) == expected(rows)
    compact(TENANT, s3, bucket=BUCKET, now=NOW)
    assert not [k for k in keys(s3) if "/incoming/" in k]
    assert logged(s3) == expected(rows)


def test_appends_racing_a_compaction_are_kept_and_folded_in_next_time(s3, monkeypatch):
    rows = append(s3, 1) + append(s3, 2)
    late: list[tuple] = []
    original = compaction_module._write_month

    def racing(*args, **kwargs):
        if not late:
            late.extend(append(s3, 3))  # lands after the listing, before the swap
        return original(*args, **kwargs)

    monkeypatch.setattr(compaction_module, "_write_month", racing)
    compact(TENANT, s3, bucket=BUCKET, now=NOW)
    assert f"tenants/{TENANT}/eventlog/incoming/batch-3.parquet" in keys(s3)
    assert logged(s3) == expected(rows + late)
    monkeypatch.setattr(compaction_module, "_write_month", original)
    compact(TENANT, s3, bucket=BUCKET, now=NOW)
    assert not [k for k in keys(s3) if "/incoming/" in k]
    assert logged(s3) == expected(rows + late)


def test_of_two_racing_compactions_one_wins_and_the_other_discards_its_parts(s3, monkeypatch):
    rows = append(s3, 1) + append(s3, 2)
    original = compaction_module._swap
    raced = []

    def other_compaction_first(*args, **kwargs):
        if not raced:
            raced.append(True)
            rows.extend(append(s3, 3))
            compact(TENANT, s3, bucket=BUCKET, now=NOW)  # wins the swap
        return original(*args, **kwargs)

    monkeypatch.setattr(compaction_module, "_swap", other_compaction_first)
    with pytest.raises(CompactionConflict):
        compact(TENANT, s3, bucket=BUCKET, now=NOW)
    named = {p.key for p in load_manifest(TENANT, s3, BUCKET).parts}
    assert {k for k in keys(s3) if "/parts/" in k} == named  # the loser deleted what it wrote
    assert logged(s3) == expected(rows)


def test_retention_drops_whole_expired_months(s3):
    old = [("c1", "open", datetime(2024, 1, 10, tzinfo=UTC), {}), ("c2", "open", datetime(2024, 2, 20, tzinfo=UTC), {})]
    recent = [("c1", "open", datetime(2025, 5, 1, tzinfo=UTC), {})]
    append_events(TENANT, events_table(old), s3, "old", BUCKET)
    compact(TENANT, s3, bucket=BUCKET, now=datetime(2024, 3, 1, tzinfo=UTC))
    append_events(TENANT, events_table(recent), s3, "recent", BUCKET)
    result = compact(TENANT, s3, bucket=BUCKET, now=NOW, retention_days=400)  # cut-off 2024-05-11
    assert len(result.parts_dropped) == 2
    assert sorted(p.month for p in load_manifest(TENANT, s3, BUCKET).parts) == ["2025-05"]
    assert logged(s3) == expected(recent)
    assert [k for k in keys(s3) if "/parts/2024-" in k] == []


def test_a_reader_meeting_a_compaction_starts_over_on_the_new_manifest(s3, monkeypatch):
    monkeypatch.setattr(reading_module, "RANGED_MIN_BYTES", 0)  # every object read by ranged GETs, as it goes
    rows = [row for seed in range(20) for row in append(s3, seed)]
    source = LogEvents(TENANT, s3, BUCKET)
    wanted = EventsWanted(frozenset({"open", "click", "purchase"}), True, None, NOW)
    attempts = []

    def consume(streams):
        attempts.append(1)
        seen = []
        for stream in streams:
            for batch in stream:
                seen += batch.to_pylist()
                if len(attempts) == 1 and len(seen) >= 50:
                    compact(TENANT, s3, bucket=BUCKET, now=NOW)  # deletes the objects this read has not reached
        return seen

    seen = source.fold(wanted, consume)
    assert len(attempts) == 2
    found = sorted((r["contact_id"], r["event"], r["occurred_at"], tuple(r["properties"])) for r in seen)
    assert found == expected(rows)


def test_a_scan_pushes_down_names_window_and_contact_range(s3):
    rows = [row for seed in range(5) for row in append(s3, seed)]
    compact(TENANT, s3, bucket=BUCKET, now=NOW)
    since = NOW - timedelta(days=30)
    query = EventQuery(names=frozenset({"open"}), since=since, until=NOW, low="c010", high="c020",
                       columns=("contact_id", "event", "occurred_at"))
    table = read_events(TENANT, s3, bucket=BUCKET, query=query)
    assert table.column_names == ["contact_id", "event", "occurred_at"]
    want = sorted((c, e, t) for c, e, t, _ in rows if e == "open" and since <= t <= NOW and "c010" <= c <= "c020")
    assert sorted((r["contact_id"], r["event"], r["occurred_at"]) for r in table.to_pylist()) == want


def test_an_unsorted_object_that_would_split_a_contact_between_slices_is_refused(s3, monkeypatch):
    """Every object is written sorted; one that is not (a foreign writer) must not make a part whose
    contacts are out of order: compaction sorts each slice, and refuses when a contact would straddle two."""
    monkeypatch.setattr(compaction_module, "MERGE_ROWS", 2)
    append_events(TENANT, events_table([("b", "open", NOW, {})]), s3, "sorted", BUCKET)
    unsorted = events_table([(c, "open", NOW - timedelta(minutes=n), {}) for n, c in enumerate("bac")])
    sink = pa.BufferOutputStream()
    pq.write_table(unsorted, sink)
    s3.put_object(Bucket=BUCKET, Key=f"tenants/{TENANT}/eventlog/incoming/foreign.parquet",
                  Body=sink.getvalue().to_pybytes())
    with pytest.raises(UnsortedStream):
        compact(TENANT, s3, bucket=BUCKET, now=NOW)
    assert load_manifest(TENANT, s3, BUCKET).parts == []
