"""Exports read members from the last run's Parquet (dynamic) or a projected Query (static) and the
contacts from the newest snapshot patched with the changes since its watermark: the file equals the
members, with every contact's current values, and no contact is fetched one BatchGet at a time."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import openpyxl
import pyarrow.parquet as pq
import pytest
from audience.evaluation import snapshots, state
from audience.evaluation.run import run_tenant
from audience.exports import contact_source, export, jobs
from audience.exports.request import parse_export_request
from audience.realtime.apply import TenantCache, apply_change
from audience.realtime.changes import ContactChange
from audience.settings import get_settings
from audience.storage import contacts_repo, fields_repo, jobs_repo, memberships_repo, segments_repo

TENANT = "t-export"
HIGH = {"field": "score", "op": "gte", "value": 50}


def queue(world, segment_id, body, tenant=TENANT):
    spec = parse_export_request(body, fields_repo.catalog(tenant), default_stem="audience")
    return jobs.create_and_enqueue(world.sqs, world.queue_url, tenant, jobs.EXPORT, segment_id,
                                   {"spec": spec.model_dump()})


def run(world, job, tenant=TENANT):
    world.run_queued()
    done = jobs_repo.get(tenant, job.job_id)
    assert done.status == "succeeded", done.error
    return done


def csv_rows(world, done) -> list[dict]:
    return list(csv.DictReader(io.StringIO(world.download(done).decode("utf-8-sig"), newline="")))


@pytest.fixture(autouse=True)
def no_overlap(monkeypatch):
    """Snapshots re-read the last 5 minutes of changes, which here would be every contact: without
    the overlap the snapshot's base files hold them and the patch only what changed after."""
    monkeypatch.setattr(snapshots, "WATERMARK_OVERLAP", timedelta(0))


@pytest.fixture
def no_batch_get(monkeypatch):
    """Fails any contact BatchGet: the bulk must come from the snapshot and its patch."""

    def refused(*args, **kwargs):
        raise AssertionError("contacts were fetched with BatchGet")

    monkeypatch.setattr(contact_source.contacts_repo, "get_many", refused)


def evaluated_segment(world, people: int = 12) -> str:
    for n in range(people):
        contacts_repo.upsert(TENANT, f"c{n:02d}", {"email": f"p{n}@example.com", "first_name": f"P{n}",
                                                    "score": 10 * n})
    segment = segments_repo.create(TENANT, name="High", type="dynamic", rules=HIGH)
    run_tenant(TENANT, as_of=datetime.now(UTC), s3=world.s3)
    return segment.id


def stream(world, contact_id: str) -> None:
    """Deliver the contact's current image to the real-time path, as contact_stream would."""
    contact = contacts_repo.get(TENANT, contact_id)
    cache = TenantCache(lambda: world.s3)
    apply_change(ContactChange(TENANT, contact_id, contact.updated_at, dict(contact.fields)), cache)
    cache.flush()


def test_dynamic_export_equals_the_members_with_changes_after_the_snapshot(world, no_batch_get):
    segment_id = evaluated_segment(world)
    contacts_repo.upsert(TENANT, "c07", {"first_name": "Changed after the snapshot"})
    contacts_repo.erase(TENANT, "c09")
    job = queue(world, segment_id, {"format": "csv", "fields": ["contact_id", "first_name", "score"]})
    done = run(world, job)

    rows = csv_rows(world, done)
    members = set(memberships_repo.iter_members(TENANT, segment_id))
    assert {r["contact_id"] for r in rows} == members == {"c05", "c06", "c07", "c08", "c10", "c11"}
    assert {r["contact_id"]: r["first_name"] for r in rows}["c07"] == "Changed after the snapshot"
    assert {r["contact_id"]: r["score"] for r in rows}["c10"] == "100"
    assert done.result["read_from"] == {"members": "state", "contacts": "snapshot"}
    assert done.counts["members_read"] == 6 and done.counts["row_count"] == 6


def test_a_keys_only_state_exports_exactly_its_members_with_their_current_values(world, no_batch_get):
    """The run kept the members as keys only: the export names them from the key directory, a
    contact changed since comes with its new values and one erased since is not exported."""
    segment_id = evaluated_segment(world)
    kept = state.read_state(TENANT, segment_id, world.s3, get_settings().data_bucket, keys=True)
    assert kept.keys_only and kept.member_count == 7
    contacts_repo.upsert(TENANT, "c06", {"first_name": "Renamed after the run"})
    contacts_repo.erase(TENANT, "c10")
    done = run(world, queue(world, segment_id, {"format": "csv", "fields": ["contact_id", "first_name"]}))

    rows = {r["contact_id"]: r["first_name"] for r in csv_rows(world, done)}
    assert set(rows) == set(memberships_repo.iter_members(TENANT, segment_id)) == {
        "c05", "c06", "c07", "c08", "c09", "c11"}
    assert rows["c06"] == "Renamed after the run"
    assert done.result["read_from"] == {"members": "state", "contacts": "snapshot"}


def test_stream_changes_since_the_run_are_members_of_the_export(world, no_batch_get):
    segment_id = evaluated_segment(world)
    contacts_repo.upsert(TENANT, "c01", {"score": 99})
    stream(world, "c01")  # joins through the real-time path
    contacts_repo.upsert(TENANT, "c11", {"score": 0})
    stream(world, "c11")  # leaves through it
    job = queue(world, segment_id, {"format": "jsonl", "fields": ["contact_id", "score"]})
    done = run(world, job)

    exported = {json.loads(line)["contact_id"]: json.loads(line)["score"] for line in world.download(done).splitlines()}
    assert set(exported) == set(memberships_repo.iter_members(TENANT, segment_id))
    assert exported["c01"] == 99 and "c11" not in exported
    assert done.result["read_from"]["members"] == "state"


def test_a_lost_state_or_a_count_that_disagrees_reads_the_membership_table(world):
    segment_id = evaluated_segment(world)
    world.s3.delete_object(Bucket=get_settings().data_bucket, Key=state.state_key(TENANT, segment_id))
    lost = run(world, queue(world, segment_id, {"format": "jsonl", "fields": ["contact_id"]}))
    assert lost.result["read_from"]["members"] == "table"
    assert len(world.download(lost).splitlines()) == 7

    other = evaluated_segment(world)  # a second run writes a state for both segments again
    memberships_repo.remove_many(TENANT, other, ["c05"])  # as category placement would
    segments_repo.adjust_member_count(TENANT, other, -1)
    drifted = run(world, queue(world, other, {"format": "jsonl", "fields": ["contact_id"]}))
    ids = [json.loads(line)["contact_id"] for line in world.download(drifted).splitlines()]
    assert drifted.result["read_from"]["members"] == "table" and "c05" not in ids and len(ids) == 6


def test_never_evaluated_dynamic_segment_exports_its_stored_members(world):
    segment = segments_repo.create(TENANT, name="Not yet run", type="dynamic", rules=HIGH)
    done = run(world, queue(world, segment.id, {"format": "csv"}))
    assert done.counts["row_count"] == 0 and done.result["read_from"]["members"] == "table"


def test_static_export_reads_ids_by_query_and_contacts_created_after_the_snapshot(world, no_batch_get):
    segment_id = world.segment([{"contact_id": f"s{n}", "email": f"s{n}@example.com", "score": n} for n in range(5)])
    snapshots.build_snapshot(TENANT, world.s3)
    contacts_repo.upsert(TENANT, "s9", {"email": "late@example.com", "score": 9})
    memberships_repo.add_many(TENANT, segment_id, ["s9"])
    contacts_repo.upsert(TENANT, "s2", {"score": 42})
    contacts_repo.erase(TENANT, "s3")
    done = run(world, queue(world, segment_id, {"format": "csv", "fields": ["contact_id", "email", "score"]}))

    rows = {r["contact_id"]: r for r in csv_rows(world, done)}
    assert set(rows) == {"s0", "s1", "s2", "s4", "s9"}
    assert rows["s2"]["score"] == "42" and rows["s9"]["email"] == "late@example.com"
    assert done.result["read_from"] == {"members": "table", "contacts": "snapshot"}


def test_a_field_declared_after_the_snapshot_falls_back_to_batch_gets(world):
    segment_id = world.segment([{"contact_id": "f1", "email": "f1@example.com"}])
    snapshots.build_snapshot(TENANT, world.s3)
    fields_repo.create(TENANT, "plan", "string")
    contacts_repo.upsert(TENANT, "f1", {"plan": "gold"})
    done = run(world, queue(world, segment_id, {"format": "csv", "fields": ["contact_id", "plan"]}))
    assert done.result["read_from"]["contacts"] == "batch_get"
    assert csv_rows(world, done) == [{"contact_id": "f1", "plan": "gold"}]


FORMATS = ("csv", "jsonl", "audience_sha256", "parquet", "xlsx")


def test_every_format_writes_the_same_file_from_the_snapshot_as_from_batch_gets(world):
    people = [
        {"contact_id": "m1", "email": "Ana@Example.com", "phone": "+4915112345678", "first_name": "=HYPERLINK(1)",
         "score": 12.5, "tags": ["vip", "+spring"], "subscribed": True, "expected_purchase_date": "2026-02-01",
         "last_clicked_at": "2025-03-01T12:00:00.250Z"},
        {"contact_id": "m2", "email": "bo@example.com", "score": -5, "tags": [], "city": "Zürich"},
        {"contact_id": "m3", "email": "cy@example.com", "score": 3, "subscribed": False},
    ]
    segment_id = world.segment(people)
    every = ["contact_id", "email", "phone", "first_name", "score", "tags", "city", "expected_purchase_date",
             "last_clicked_at", "created_at"]

    def export_all() -> dict:
        queued = {f: queue(world, segment_id, {"format": f, "fields": ["email", "phone"] if f == "audience_sha256"
                                               else every}) for f in FORMATS}
        world.run_queued()
        return {f: jobs_repo.get(TENANT, job.job_id) for f, job in queued.items()}

    fetched = export_all()
    snapshots.build_snapshot(TENANT, world.s3)
    from_snapshot = export_all()

    for export_format in FORMATS:
        before, after = fetched[export_format], from_snapshot[export_format]
        assert (before.result["read_from"]["contacts"], after.result["read_from"]["contacts"]) == \
            ("batch_get", "snapshot")
        first, second = world.download(before), world.download(after)
        if export_format == "parquet":
            assert pq.read_table(io.BytesIO(first)).equals(pq.read_table(io.BytesIO(second)))
        elif export_format == "xlsx":
            def rows(raw):
                return list(openpyxl.load_workbook(io.BytesIO(raw))["Contacts"].iter_rows(values_only=True))

            assert rows(first) == rows(second)
            assert rows(second)[1][3] == "'=HYPERLINK(1)"
        else:
            assert first == second, export_format
        assert after.counts["row_count"] == 2 and after.counts["excluded_unsubscribed"] == 1
    text = world.download(from_snapshot["csv"]).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and "'+4915112345678" in text and '"vip, +spring"' in text
    assert ",12.5," in text and ",-5," in text
    assert "2025-03-01T12:00:00.250Z" in text and "2026-02-01" in text


def test_progress_reports_rows_written_while_the_export_runs(world, monkeypatch):
    segment_id = world.segment([{"contact_id": f"r{n:03d}", "email": f"r{n}@example.com"} for n in range(30)])
    snapshots.build_snapshot(TENANT, world.s3)
    monkeypatch.setattr(snapshots, "BATCH_ROWS", 7)
    monkeypatch.setattr(export, "PROGRESS_EVERY_SECONDS", 0.0)
    seen: list[int] = []
    spec = parse_export_request({"format": "csv", "fields": ["contact_id"]}, fields_repo.catalog(TENANT))
    outcome = export.run_export(TENANT, "job-progress", segment_id, spec, s3=world.s3, bucket=world.bucket,
                                on_progress=lambda counts: seen.append(counts["row_count"]))
    assert seen[:4] == [7, 14, 21, 28], "one report per snapshot batch of 7"
    assert seen == sorted(seen) and seen[-1] == 30 == outcome.counts["row_count"]


def test_another_tenants_snapshot_is_never_read(world, no_batch_get):
    for tenant, name in (("t-other", "Other"), (TENANT, "Mine")):
        contacts_repo.upsert(tenant, "same-id", {"email": f"{name.lower()}@example.com", "first_name": name})
        snapshots.build_snapshot(tenant, world.s3)
    mine = segments_repo.create(TENANT, name="Mine", type="static")
    memberships_repo.add_many(TENANT, mine.id, ["same-id"])
    done = run(world, queue(world, mine.id, {"format": "csv", "fields": ["contact_id", "first_name"]}))
    assert csv_rows(world, done) == [{"contact_id": "same-id", "first_name": "Mine"}]
    assert done.result["object_key"].startswith(f"tenants/{TENANT}/exports/")
