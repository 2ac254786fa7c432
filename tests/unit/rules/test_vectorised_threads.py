"""Evaluating batches on several threads gives exactly the one-thread answer, in the batches' order,
with a bounded number of batches in flight; ``EVALUATION_THREADS`` picks the thread count."""

from __future__ import annotations

import threading
import time
import weakref
from datetime import timedelta

import pyarrow as pa
import pytest
from agreement import AS_OF, CATALOG, contacts_batch, dictionary_encoded, events_table, parse, split
from audience.rules import vectorised
from audience.rules.vectorised import compile_segments, evaluate_segments, evaluation_threads

CONTACTS = [
    {"contact_id": f"c{i:03d}", "city": ["Paris", "LYON", "", None][i % 4], "score": [None, 3, 10, 12.5][i % 4],
     "tags": [["vip"], [], None, ["VIP", "new"]][i % 4], "last_clicked_at": AS_OF - timedelta(days=i % 9)}
    for i in range(97)
]
EVENTS = [
    {"contact_id": f"c{(i * 7) % 101:03d}", "event": ["purchase", "email_open"][i % 2],
     "occurred_at": AS_OF - timedelta(days=i % 40, hours=i % 5), "properties": {"amount": str(i % 13)}}
    for i in range(300)
]
RULES = {
    "paris": {"field": "city", "op": "eq", "value": "paris"},
    "no_city": {"field": "city", "op": "is_empty"},
    "scored": {"field": "score", "op": "gte", "value": 10},
    "vip": {"field": "tags", "op": "has_any", "value": ["vip"]},
    "recent": {"field": "last_clicked_at", "op": "within_last_days", "value": 3},
    "bought": {"event": "purchase", "within_last_days": 30},
    "spent": {"event": "purchase", "aggregate": {"fn": "sum", "field": "amount", "op": "gte", "value": 12}},
    "opened_twice": {"event": "email_open", "aggregate": {"fn": "count", "op": "gte", "value": 2}},
    "last_open": {"event": "email_open", "aggregate": {"fn": "last_at", "op": "within_last_days", "value": 10}},
    "paris_buyers": {"all": [{"segment": "paris"}, {"segment": "bought"}, {"segment": "outside"}]},
    "not_vip": {"not": {"segment": "vip"}},
}
OUTSIDE = pa.array([f"c{i:03d}" for i in range(0, 97, 3)], pa.string())


def segments():
    return [(sid, parse(rule)) for sid, rule in RULES.items()]


def batches(encoded: bool = False):
    pieces = split(contacts_batch(CONTACTS), [5, 1, 13, 0, 20, 7, 30, 21])
    return [dictionary_encoded(b) for b in pieces] if encoded else pieces


def answer(threads: int, encoded: bool = False):
    found = evaluate_segments(segments(), batches(encoded), as_of=AS_OF, catalog=CATALOG,
                              events=events_table(EVENTS, chunks=3), memberships={"outside": OUTSIDE},
                              threads=threads)
    return {sid: ids.to_pylist() for sid, ids in found.items()}


@pytest.mark.parametrize("encoded", [False, True])
@pytest.mark.parametrize("events_in_chunks", [False, True])
def test_any_number_of_threads_gives_the_one_thread_answer_in_the_same_order(encoded, events_in_chunks, monkeypatch):
    if events_in_chunks:  # this small event log too is aggregated slice by slice (disjoint contacts)
        monkeypatch.setattr(vectorised, "SLICE_ROWS", 7)
    one = answer(1, encoded)
    assert all(0 < len(ids) < len(CONTACTS) for ids in one.values())  # every case selects some, not all
    for threads in (2, 3, 8):
        found = answer(threads, encoded)
        assert list(found) == list(one)
        assert found == one  # same ids in the same (batch) order


def test_streamed_results_keep_the_batches_order_and_few_batches_are_in_flight():
    evaluator = compile_segments(segments(), as_of=AS_OF, catalog=CATALOG, events=events_table(EVENTS),
                                 memberships={"outside": OUTSIDE})
    evaluator.prepare()  # the pass after the preparation (while it runs, a few more are read ahead: below)
    pieces = [b for b in batches() if b.num_rows]
    read = 0
    submitted_ahead: list[int] = []

    def source():
        nonlocal read
        for piece in pieces:
            read += 1
            yield piece

    def work(batch):
        return batch.column(0).to_pylist(), threading.current_thread().name

    seen = []
    for ids, _ in evaluator.stream(source(), work, threads=2):
        submitted_ahead.append(read - len(seen) - 1)
        seen.append(ids)
    assert seen == [b.column(0).to_pylist() for b in pieces]
    assert max(submitted_ahead) <= 2  # at most threads + 1 batches read and not yet returned


def test_the_pass_reads_its_next_batches_while_the_run_wide_preparation_runs():
    """With several threads the preparation (the event log streamed) runs beside the caller, who
    reads the next few batches meanwhile — at most ``READ_AHEAD`` per thread — and the answer is
    the one-thread answer."""
    pieces = [b for b in batches() if b.num_rows]
    read = 0
    read_when_prepared: list[int] = []

    class SlowLog(vectorised.TableEvents):  # the preparation waits (at most 5 s) for reads beside it
        def fold(self, wanted, consume):
            deadline = time.monotonic() + 5
            while read < 4 and time.monotonic() < deadline:
                time.sleep(0.002)
            read_when_prepared.append(read)
            return super().fold(wanted, consume)

    def source():
        nonlocal read
        for piece in pieces:
            read += 1
            yield piece

    evaluator = compile_segments(segments(), as_of=AS_OF, catalog=CATALOG, events=SlowLog(events_table(EVENTS)),
                                 memberships={"outside": OUTSIDE})
    found = [masks for _, masks in evaluator.stream(source(), threads=2)]
    assert read_when_prepared and 4 <= read_when_prepared[0] <= vectorised.READ_AHEAD * 2
    one = compile_segments(segments(), as_of=AS_OF, catalog=CATALOG, events=events_table(EVENTS),
                           memberships={"outside": OUTSIDE})
    expected = [one.masks(piece) for piece in pieces]
    assert [{sid: m.to_pylist() for sid, m in masks.items()} for masks in found] == \
        [{sid: m.to_pylist() for sid, m in masks.items()} for masks in expected]


@pytest.mark.parametrize("threads", [1, 2])
def test_the_pass_lets_each_batch_go_once_its_work_is_done_the_first_one_too(threads):
    """No batch outlives its work: the first batch and those read ahead during the preparation are not
    held to the end of the pass (at 10M contacts each is ~25 MB of decoded columns)."""
    evaluator = compile_segments(segments(), as_of=AS_OF, catalog=CATALOG, events=events_table(EVENTS),
                                 memberships={"outside": OUTSIDE})
    made: list[weakref.ref] = []

    def source():  # each batch made here, referenced by nobody else
        for start in range(0, len(CONTACTS), 5):
            batch = contacts_batch(CONTACTS[start:start + 5])
            made.append(weakref.ref(batch))
            yield batch
            del batch

    stream = evaluator.stream(source(), lambda batch: batch.num_rows, threads=threads)
    done = [next(stream) for _ in range(vectorised.READ_AHEAD * threads + threads + 3)]
    assert sum(done) == 5 * len(done)
    assert made[0]() is None and made[1]() is None
    assert sum(map(len, [done, list(stream)])) == len(made)


def test_a_failing_batch_fails_the_stream():
    evaluator = compile_segments(segments(), as_of=AS_OF, catalog=CATALOG)

    def work(batch):
        if batch.num_rows == 13:
            raise ValueError("broken batch")
        return batch.num_rows

    with pytest.raises(ValueError, match="broken batch"):
        list(evaluator.stream(batches(), work, threads=3))


def test_no_batches_and_no_events_select_nobody_on_any_thread_count():
    for threads in (1, 2):
        found = evaluate_segments(segments(), [], as_of=AS_OF, catalog=CATALOG, threads=threads)
        assert {sid: len(ids) for sid, ids in found.items()} == dict.fromkeys(RULES, 0)
        found = evaluate_segments(segments(), batches(), as_of=AS_OF, catalog=CATALOG, threads=threads,
                                  memberships={"outside": OUTSIDE})
        assert found["bought"].to_pylist() == [] and len(found["no_city"]) == 48


def test_evaluation_threads_comes_from_the_environment_or_the_cpus(monkeypatch):
    monkeypatch.setenv("EVALUATION_THREADS", "1")
    assert evaluation_threads() == 1
    monkeypatch.setenv("EVALUATION_THREADS", "3")
    assert evaluation_threads() == 3
    monkeypatch.setenv("EVALUATION_THREADS", "0")
    assert evaluation_threads() == 1
    monkeypatch.delenv("EVALUATION_THREADS")
    assert 1 <= evaluation_threads() <= vectorised.MAX_THREADS


def test_the_runs_placement_pass_gives_the_one_thread_answer_on_several_threads():
    from audience.evaluation import engine
    from audience.evaluation.placement import Slot

    rules = {sid: parse(rule) for sid, rule in RULES.items() if sid != "paris_buyers"}
    slots = [Slot("paris", category="city", priority=1), Slot("no_city", category="city", priority=2),
             Slot("scored", category="tier"), Slot("vip", category="tier", priority=5, ignore_suppression=True),
             *(Slot(sid) for sid in rules if sid not in ("paris", "no_city", "scored", "vip"))]
    plan = engine.Plan(as_of=AS_OF, catalog=CATALOG, rules=rules, slots=slots, suppression=parse(RULES["recent"]),
                       events=events_table(EVENTS, chunks=2),
                       static_by_category={"tier": pa.array(["c001", "c004", "c050"], pa.string())})
    one = {sid: ids.to_pylist() for sid, ids in engine.evaluate(plan, batches(), threads=1).items()}
    assert sum(map(len, one.values())) > 0
    for threads in (2, 4):
        found = engine.evaluate(plan, batches(), threads=threads)
        assert {sid: ids.to_pylist() for sid, ids in found.items()} == one


def test_contains_answers_membership_in_a_sorted_id_set():
    members = vectorised.sorted_ids(pa.array(["c5", "c1", None, "c3", "c1"], pa.string()))
    assert members.to_pylist() == ["c1", "c3", "c5"]
    ids = pa.array(["c3", "c0", "c5", "c4", "c9", "c1"], pa.string())
    assert vectorised.contains(members, ids).to_pylist() == [True, False, True, False, False, True]
    assert vectorised.contains(vectorised.sorted_ids(None), ids).to_pylist() == [False] * 6
    assert vectorised.contains(members, pa.array([], pa.string())).to_pylist() == []
