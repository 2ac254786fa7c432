"""Mass update and score reset through the real exporter handler: pausing near the end of an
invocation and continuing from the checkpoint, resuming after a crash, and the audit record."""

from __future__ import annotations

import pytest
from audience.bulk import audit
from audience.exports import jobs
from audience.storage import contacts_repo, jobs_repo

TENANT = "t-export"  # the tenant World.segment seeds by default
PEOPLE = [{"contact_id": f"c{i}", "email": f"p{i}@example.com", "score": 10 + i} for i in range(5)]


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of two members, so five members take three pages."""
    from audience.bulk import updates

    original = updates.member_pages
    monkeypatch.setattr(updates, "member_pages", lambda t, s, size, after=None: original(t, s, 2, after))


def queue(world, kind, segment_id, params):
    return jobs.create_and_enqueue(world.sqs, world.queue_url, TENANT, kind, segment_id, params)


def test_a_mass_update_short_of_time_pauses_and_continues_from_its_checkpoint(world, small_pages):
    segment_id = world.segment(PEOPLE)
    job = queue(world, jobs.MASS_UPDATE, segment_id, {"set": {"stage": "won"}})
    deliveries = 0
    while messages := world.received():
        world.deliver(messages, remaining_ms=30_000)  # under the pause margin: one page per invocation
        deliveries += 1
        current = jobs_repo.get(TENANT, job.job_id)
        if current.status != "succeeded":
            assert current.status == "pending" and current.counts["checkpoint"]["after"]
    done = jobs_repo.get(TENANT, job.job_id)
    assert deliveries == 3 and done.status == "succeeded"
    assert done.counts["members_read"] == 5 and done.counts["contacts_updated"] == 5
    assert "checkpoint" not in done.counts
    assert [contacts_repo.get(TENANT, f"c{i}").version for i in range(5)] == [2] * 5, "each contact updated once"


def test_a_crashed_reset_resumes_after_its_checkpoint_and_is_audited_once(world, small_pages, monkeypatch):
    from audience.bulk import contact_updates, updates

    segment_id = world.segment(PEOPLE)
    params = {
        "reason": "model v2",
        "requested_by": {"tenant_id": TENANT},
        "requested_at": "2026-01-01T00:00:00Z",
    }
    job = queue(world, jobs.RESET_SCORE, segment_id, params)
    messages = world.received()
    calls = {"n": 0}
    real_set_fields = contact_updates.set_fields

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("connection reset")
        return real_set_fields(*args, **kwargs)

    monkeypatch.setattr(updates, "set_fields", flaky)
    monkeypatch.setattr(updates, "PROGRESS_EVERY_SECONDS", 0.0)
    answer = world.deliver(messages)
    assert answer["batchItemFailures"], "the failed attempt is left to SQS to deliver again"
    crashed = jobs_repo.get(TENANT, job.job_id)
    assert crashed.status == "running" and crashed.counts["contacts_updated"] == 2
    failed_audit = audit.list_records(world.dynamodb, world.aws.name("MainTable"), TENANT)
    assert [e["outcome"] for e in failed_audit] == ["failed"]

    from datetime import UTC, datetime, timedelta

    later = datetime.now(UTC) + timedelta(seconds=jobs.LEASE_SECONDS + 5)
    monkeypatch.setattr(jobs, "datetime", type("Frozen", (), {"now": staticmethod(lambda tz=None: later)}))
    world.deliver(messages, receive_count=2)
    done = jobs_repo.get(TENANT, job.job_id)
    assert done.status == "succeeded" and done.counts["contacts_updated"] == 5 and done.counts["attempts"] == 2
    assert calls["n"] == 4, "pages 2 and 3 only: page 1 was not redone"
    assert [contacts_repo.get(TENANT, f"c{i}").fields["score"] for i in range(5)] == [0] * 5
    (entry,) = audit.list_records(world.dynamodb, world.aws.name("MainTable"), TENANT)
    assert entry["outcome"] == "succeeded" and entry["contacts_updated"] == 5 and entry["reason"] == "model v2"


def test_erased_members_are_skipped_not_recreated(world):
    segment_id = world.segment(PEOPLE[:2])
    contacts_repo.erase(TENANT, "c1")
    from audience.storage import memberships_repo

    memberships_repo.add_many(TENANT, segment_id, ["c1"])  # a stale membership of the erased contact
    job = queue(world, jobs.MASS_UPDATE, segment_id, {"set": {"city": "Oslo"}})
    world.run_queued()
    done = jobs_repo.get(TENANT, job.job_id)
    assert done.counts["contacts_updated"] == 1 and done.counts["contacts_skipped"] == 1
    assert contacts_repo.find(TENANT, "c1") is None
