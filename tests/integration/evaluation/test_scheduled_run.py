"""A scheduled run on moto: contacts and events in, memberships, counts and history out — checked
against the per-record evaluator plus SPEC §1's placement."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from audience.evaluation.placement import Slot, place_contact
from audience.evaluation.run import LeaseHeld, run_tenant
from audience.eventlog import append_events, events_table
from audience.fields import DEFAULT_CATALOG
from audience.rules import evaluate_record, parse_rule
from audience.storage import (
    contacts_repo,
    history_repo,
    memberships_repo,
    runs_repo,
    segments_repo,
    suppression_repo,
)
from audience.suppression import SuppressionPolicy

AS_OF = datetime(2024, 6, 1, 12, tzinfo=UTC)
COUNTRIES = ["DE", "FR", "US", "es", None]


def seed_contacts(tenant: str, count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    ids = []
    for n in range(count):
        fields = {
            "email": f"c{n}@example.com",
            "country": rng.choice(COUNTRIES),
            "score": rng.choice([None, 0, 5, 10, 50, 99]),
            "sent_count": rng.choice([0, 1, 3, 8]),
            "clicks_count": rng.choice([None, 0, 2]),
            "subscribed": rng.choice([True, False, None]),
            "tags": rng.choice([[], ["vip"], ["vip", "b2b"], ["B2B"]]),
            "last_received_at": rng.choice([None, "2024-05-30T10:00:00Z", "2024-01-01T00:00:00Z"]),
        }
        present = {k: v for k, v in fields.items() if v is not None}
        ids.append(contacts_repo.upsert(tenant, f"c{n:03d}", present).contact_id)
    return ids


def seed_events(tenant: str, s3, ids: list[str], seed: int = 3, as_of: datetime = AS_OF) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for contact_id in ids:
        for _ in range(rng.choice([0, 0, 1, 3])):
            occurred = as_of - timedelta(days=rng.choice([1, 5, 40]), hours=rng.randint(0, 20))
            rows.append((contact_id, rng.choice(["open", "purchase"]), occurred, {"amount": str(rng.choice([5, 50]))}))
    append_events(tenant, events_table(rows), s3, "seed")
    return rows


def expected_members(tenant: str, rows_by_contact, events_by_contact, static_members: dict[str, set[str]],
                     as_of: datetime = AS_OF):
    """Per-record evaluation + single-contact placement, the reference for the scheduled run."""
    segments = segments_repo.all_segments(tenant)
    dynamic = [s for s in segments if s.type == "dynamic"]
    rules = {s.id: parse_rule(s.rules, DEFAULT_CATALOG) for s in dynamic}
    policy = SuppressionPolicy.from_document(suppression_repo.get(tenant).document, DEFAULT_CATALOG)
    slots = [Slot.of(s) for s in dynamic]
    expected: dict[str, set[str]] = {s.id: set() for s in dynamic}
    for contact_id, row in rows_by_contact.items():
        events = events_by_contact.get(contact_id, [])

        def member_of(sid, row=row, events=events, contact_id=contact_id):
            if sid in rules:
                return evaluate_record(rules[sid], row, as_of=as_of, catalog=DEFAULT_CATALOG, events=events,
                                       member_of=member_of)
            return contact_id in static_members.get(sid, set())

        matches = {sid for sid in rules if member_of(sid)}
        static_categories = {s.category for s in segments
                             if s.type == "static" and s.category and contact_id in static_members.get(s.id, set())}
        suppressed = policy.suppresses(row, as_of=as_of, catalog=DEFAULT_CATALOG, events=events, member_of=member_of)
        for sid in place_contact(matches, static_categories, slots, suppressed):
            expected[sid].add(contact_id)
    return expected


def contact_rows(tenant: str) -> dict[str, dict]:
    return {c.contact_id: c.as_row() for c in contacts_repo.iter_all(tenant)}


def events_of(rows) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for contact_id, event, occurred, props in rows:
        found.setdefault(contact_id, []).append({"event": event, "occurred_at": occurred, "properties": props})
    return found


def dynamic(tenant: str, name: str, rules: dict, **extra):
    from audience.rules import referenced_segments

    refs = sorted(referenced_segments(parse_rule(rules, DEFAULT_CATALOG)))
    return segments_repo.create(tenant, name=name, type="dynamic", rules=rules, references=refs, **extra)


def stored(tenant: str, segment_id: str) -> set[str]:
    return set(memberships_repo.iter_members(tenant, segment_id))


def test_scheduled_run_writes_what_the_per_record_evaluator_and_placement_decide(tenant, s3):
    ids = seed_contacts(tenant, 60)
    event_rows = seed_events(tenant, s3, ids)
    vip_list = segments_repo.create(tenant, name="VIP list", type="static", category="tier")
    memberships_repo.add_many(tenant, vip_list.id, ids[:5], source="static", category="tier")
    europe = dynamic(tenant, "Europe", {"field": "country", "op": "in", "value": ["de", "FR", "ES"]})
    buyers = dynamic(tenant, "Buyers", {"event": "purchase", "within_last_days": 30,
                                        "aggregate": {"fn": "sum", "field": "amount", "op": "gte", "value": 50}})
    gold = dynamic(tenant, "Gold", {"all": [{"segment": europe.id}, {"field": "score", "op": "gte", "value": 50}]},
                   category="tier", priority=1)
    silver = dynamic(tenant, "Silver", {"any": [{"field": "tags", "op": "has_any", "value": ["vip"]},
                                                {"segment": buyers.id}]}, category="tier", priority=2)
    optout = dynamic(tenant, "Everyone (ignores suppression)", {"field": "email", "op": "is_not_empty"},
                     ignore_suppression=True)
    suppression_repo.put(tenant, {"rules": {"field": "country", "op": "eq", "value": "US"},
                                  "received_at_least_never_clicked": {"enabled": True, "min_received": 3}})

    result = run_tenant(tenant, as_of=AS_OF, s3=s3)

    expected = expected_members(tenant, contact_rows(tenant), events_of(event_rows), {vip_list.id: set(ids[:5])})
    assert result.failed == {}
    for segment in (europe, buyers, gold, silver, optout):
        assert stored(tenant, segment.id) == expected[segment.id], segment.name
        assert result.segments[segment.id] == len(expected[segment.id])
        saved = segments_repo.get(tenant, segment.id)
        assert saved.member_count == len(expected[segment.id])
        assert saved.last_evaluated_at == "2024-06-01T12:00:00Z"
        assert saved.evaluation_status == "succeeded"
        assert saved.last_run["run_id"] == result.run_id and saved.last_run["segments_in_pass"] == 5
        assert saved.last_run["added"] == len(expected[segment.id]) and saved.last_run["removed"] == 0
        assert 0 <= saved.last_run["write_ms"] <= saved.last_run["duration_ms"] == result.duration_ms
        [day] = history_repo.range(tenant, segment.id, "2024-06-01", "2024-06-01")
        assert (day.added, day.removed, day.total) == (len(expected[segment.id]), 0, len(expected[segment.id]))
    assert stored(tenant, vip_list.id) == set(ids[:5])  # static membership untouched
    assert not (stored(tenant, gold.id) & stored(tenant, silver.id))
    assert len(expected[optout.id]) == 60 and len(expected[europe.id]) < len(expected[optout.id])
    assert all(expected[s.id] for s in (europe, buyers, gold, silver))  # every case is exercised
    assert result.summary()["snapshot_id"] == result.snapshot_id
    assert runs_repo.get_run(tenant, result.run_id).status == "succeeded"


def test_second_run_writes_only_the_changes_and_history_adds_up(tenant, s3, monkeypatch):
    seed_contacts(tenant, 40)
    europe = dynamic(tenant, "Europe", {"field": "country", "op": "in", "value": ["DE", "FR"]})
    run_tenant(tenant, as_of=AS_OF, s3=s3)
    before = stored(tenant, europe.id)
    leaving = sorted(before)[0]
    contacts_repo.upsert(tenant, leaving, {"country": "US"})
    contacts_repo.upsert(tenant, "new-one", {"country": "DE"})
    writes = []
    original_add, original_remove = memberships_repo.add_many, memberships_repo.remove_many
    monkeypatch.setattr(memberships_repo, "add_many", lambda t, s, ids, **kw: writes.append(("add", list(ids)))
                        or original_add(t, s, ids, **kw))
    monkeypatch.setattr(memberships_repo, "remove_many", lambda t, s, ids, **kw: writes.append(("remove", list(ids)))
                        or original_remove(t, s, ids, **kw))

    run_tenant(tenant, as_of=AS_OF + timedelta(hours=1), s3=s3)

    assert sorted(writes) == [("add", ["new-one"]), ("remove", [leaving])]
    assert stored(tenant, europe.id) == (before - {leaving}) | {"new-one"}
    [day] = history_repo.range(tenant, europe.id, "2024-06-01", "2024-06-01")
    assert (day.added, day.removed, day.total) == (len(before) + 1, 1, len(before))


def test_erased_contact_leaves_its_dynamic_segments(tenant, s3):
    seed_contacts(tenant, 20)
    everyone = dynamic(tenant, "Everyone", {"field": "email", "op": "is_not_empty"})
    run_tenant(tenant, as_of=AS_OF, s3=s3)
    contacts_repo.erase(tenant, "c003")
    run_tenant(tenant, as_of=AS_OF + timedelta(hours=1), s3=s3)
    assert "c003" not in stored(tenant, everyone.id)
    assert segments_repo.get(tenant, everyone.id).member_count == 19


def test_broken_segment_is_marked_and_the_others_are_evaluated(tenant, s3):
    seed_contacts(tenant, 10)
    good = dynamic(tenant, "Good", {"field": "email", "op": "is_not_empty"})
    broken = segments_repo.create(tenant, name="Broken", type="dynamic",
                                  rules={"field": "no_such_field", "op": "eq", "value": "x"})
    result = run_tenant(tenant, as_of=AS_OF, s3=s3)
    assert result.segments == {good.id: 10}
    saved = segments_repo.get(tenant, broken.id)
    assert saved.evaluation_status == "failed" and "no_such_field" in saved.evaluation_error
    assert segments_repo.get(tenant, good.id).member_count == 10


def test_live_lease_blocks_a_second_run_and_an_expired_one_is_taken_over(tenant, s3):
    seed_contacts(tenant, 5)
    everyone = dynamic(tenant, "Everyone", {"field": "email", "op": "is_not_empty"})
    assert runs_repo.acquire_lease(tenant, "someone-else", 600)
    with pytest.raises(LeaseHeld):
        run_tenant(tenant, as_of=AS_OF, s3=s3)
    runs_repo.release_lease(tenant, "someone-else")
    assert runs_repo.acquire_lease(tenant, "dead-run", -1)  # a lease that has already expired
    runs_repo.put_run(tenant, "00000000T000000000000Z-dead", "running")
    run_tenant(tenant, as_of=AS_OF, s3=s3)
    assert segments_repo.get(tenant, everyone.id).member_count == 5
    assert runs_repo.get_run(tenant, "00000000T000000000000Z-dead").status == "abandoned"


def test_scheduled_event_through_the_lambda_matches_the_per_record_evaluator(tenant, s3):
    """The EventBridge event in, the SPEC §6 summary out, memberships/counts/history as expected."""
    import json

    from tests.integration.evaluation.test_evaluator_handler import EVENTS, handler

    ids = seed_contacts(tenant, 30, seed=11)
    event_rows = seed_events(tenant, s3, ids, seed=5, as_of=datetime.now(UTC))
    openers = dynamic(tenant, "Opened lately", {"event": "open", "within_last_days": 10})
    tagged = dynamic(tenant, "Tagged and opened", {"all": [{"field": "tags", "op": "is_not_empty"},
                                                           {"segment": openers.id}]}, category="c", priority=1)
    rest = dynamic(tenant, "Everyone else in c", {"field": "email", "op": "is_not_empty"}, category="c", priority=2)
    suppression_repo.put(tenant, {"rules": None,
                                  "received_at_least_never_clicked": {"enabled": True, "min_received": 3}})

    answer = handler(json.loads((EVENTS / "schedule_evaluator.json").read_text()))

    [summary] = [run for run in answer["runs"] if run["tenant_id"] == tenant]
    as_of = datetime.fromisoformat(summary["as_of"].replace("Z", "+00:00"))
    expected = expected_members(tenant, contact_rows(tenant), events_of(event_rows), {}, as_of=as_of)
    assert summary["segments"] == {s.id: len(expected[s.id]) for s in (openers, tagged, rest)}
    assert all(expected[s.id] for s in (openers, tagged, rest))
    assert len(expected[rest.id]) + len(expected[tagged.id]) < 30  # suppression took some out
    for segment in (openers, tagged, rest):
        assert stored(tenant, segment.id) == expected[segment.id]
        [day] = history_repo.range(tenant, segment.id, as_of.date().isoformat(), as_of.date().isoformat())
        assert (day.added, day.removed, day.total) == (len(expected[segment.id]), 0, len(expected[segment.id]))


def test_segments_are_written_a_few_at_a_time_and_a_failing_write_stops_no_other(tenant, s3, monkeypatch):
    """A run writes several segments at once (``SEGMENT_WRITERS``): one segment's own requests and
    item building overlap another's batches. Each segment's result and failure stay its own."""
    import threading

    from audience.evaluation import results

    seed_contacts(tenant, 20)
    made = [dynamic(tenant, f"Score {n}+", {"field": "score", "op": "gte", "value": n}) for n in (0, 5, 10, 50)]
    broken = made[1].id
    apply, lock = results._apply, threading.Lock()
    running, most = [0], [0]

    def overlapping(tenant_id, segment, *args, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.3)  # long enough for the next segment's write to start meanwhile
            if segment.id == broken:
                raise RuntimeError("table unavailable")
            return apply(tenant_id, segment, *args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(results, "_apply", overlapping)
    result = run_tenant(tenant, as_of=AS_OF, s3=s3)

    assert most[0] == min(results.SEGMENT_WRITERS, len(made)) > 1
    assert result.failed == {broken: "RuntimeError: table unavailable"}
    assert set(result.segments) == {s.id for s in made if s.id != broken}
    for segment in made:
        saved = segments_repo.get(tenant, segment.id)
        if segment.id == broken:
            assert saved.evaluation_status == "failed" and memberships_repo.count(tenant, segment.id) == 0
        else:
            assert saved.member_count == result.segments[segment.id] == memberships_repo.count(tenant, segment.id)
            assert 0 <= saved.last_run["write_ms"] <= saved.last_run["writes_ms"] <= saved.last_run["duration_ms"]
            assert saved.last_run["duration_ms"] == result.duration_ms
    written = segments_repo.get(tenant, made[0].id).last_run["writes_ms"]
    assert runs_repo.get_run(tenant, result.run_id).detail["writes_ms"] == written
