"""The real-time path's cost on DynamoDB: with 100 dynamic segments a contact change costs at most
5 requests in a stream batch (one consistent read, its membership writes 25 per request, and the
batch's claims, rules, counters and history shared by its records), and batching loses no exactness."""

from __future__ import annotations

import time

import pytest
from audience.realtime import stamps
from audience.realtime.batched import Join, write_memberships
from audience.storage import memberships_repo, segments_repo

from bench.stream import RequestCounter
from tests.integration.api.conftest import FakeLambdaContext
from tests.integration.realtime.conftest import modify_record, score_segments

STAMP = "2025-06-01T12:00:00.000Z"


@pytest.fixture
def hundred_segments(aws):
    return score_segments("t-requests", 100)


def test_a_contact_change_costs_at_most_five_requests_with_a_hundred_segments(hundred_segments):
    from functions.contact_stream.app import lambda_handler

    tenant, changes = hundred_segments, 20
    score = {f"c{i}": 10 + i for i in range(changes)}  # c{i} joins s000..s{10+i}: 11 to 30 memberships
    records = [modify_record(tenant, cid, {"score": value}, i) for i, (cid, value) in enumerate(score.items())]
    started = time.perf_counter()
    with RequestCounter() as requests:
        answer = lambda_handler({"Records": records}, FakeLambdaContext(function_name="contact_stream"))
    assert answer == {"batchItemFailures": []}
    assert requests.dynamodb <= 5 * changes, requests.counts
    # the batch's watermark claims in one transaction, not one UpdateItem per contact
    assert requests.counts["PutItem"] == 0 and requests.counts["UpdateItem"] == 0
    assert all(stamps.watermark(tenant, cid) == STAMP for cid in score)
    # 25 membership writes per request: a change moving 26 to 30 memberships takes two; the batch's
    # history entries (one per membership moved) go at the flush, 25 per request, shared by the batch.
    moved = sum(value + 1 for value in score.values())
    history_requests = -(-moved // 25)
    assert requests.counts["BatchWriteItem"] == (
        changes + sum(1 for value in score.values() if value >= 25) + history_requests
    )
    # Every membership written and every count exact.
    for sid in ("s000", "s010", "s015", "s029", "s030", "s099"):
        expected = {cid for cid, value in score.items() if value >= int(sid[1:])}
        assert set(memberships_repo.iter_members(tenant, sid)) == expected
        assert segments_repo.get(tenant, sid).member_count == len(expected)
    assert time.perf_counter() - started < 60


def test_membership_writes_of_a_contact_go_in_batches_and_report_what_moved(aws):
    tenant = "t-batch"
    stamps.add(tenant, "s99", "c1", None, STAMP)
    with RequestCounter() as requests:
        added, removed = write_memberships(tenant, "c1", STAMP, [Join(f"s{i}", "tier") for i in range(30)], ["s99"])
    assert requests.counts == {"BatchWriteItem": 2}  # 31 writes, 25 per request
    assert (sorted(added), removed) == (sorted(f"s{i}" for i in range(30)), ["s99"])
    stored = {m.segment_id: m for m in memberships_repo.segments_of(tenant, "c1")}
    assert set(stored) == {f"s{i}" for i in range(30)}
    assert stored["s0"].category == "tier" and stored["s0"].source == "dynamic"


def test_a_batch_claims_its_contacts_together_and_a_stale_one_falls_back_alone(aws):
    newer, older = "2025-06-02T00:00:00.000Z", "2025-06-01T00:00:00.000Z"
    assert stamps.claim("t-claims", "c1", newer)
    wanted = [("t-claims", f"c{i}", older) for i in range(2, 150)]
    with RequestCounter() as requests:
        made = stamps.claim_many(wanted)
    assert made == set(wanted) and requests.counts == {"TransactWriteItems": 2}  # 100 per transaction
    # c1 holds a newer change: its transaction claims nothing, and the caller claims one by one
    stale_chunk = [("t-claims", "c1", older), ("t-claims", "c200", older)]
    assert stamps.claim_many(stale_chunk) == set()
    assert stamps.watermark("t-claims", "c1") == newer and stamps.watermark("t-claims", "c200") is None


def test_a_stale_record_in_a_batch_is_skipped_and_the_others_apply(hundred_segments):
    from functions.contact_stream.app import lambda_handler

    tenant = hundred_segments
    assert stamps.claim(tenant, "c0", "2025-06-02T00:00:00.000Z")  # c0 has a newer change applied
    records = [modify_record(tenant, f"c{i}", {"score": 50}, i) for i in range(3)]
    answer = lambda_handler({"Records": records}, FakeLambdaContext(function_name="contact_stream"))
    assert answer == {"batchItemFailures": []}
    assert set(memberships_repo.iter_members(tenant, "s050")) == {"c1", "c2"}
    assert stamps.watermark(tenant, "c1") == STAMP and stamps.watermark(tenant, "c0") == "2025-06-02T00:00:00.000Z"


def test_each_record_of_a_batch_is_read_into_a_change_once(hundred_segments, monkeypatch):
    import functions.contact_stream.app as contact_stream

    read: list[str] = []
    real = contact_stream.change_from_images

    def counting(keys, image, moment):
        read.append(keys["sk"]["S"])
        return real(keys, image, moment)

    monkeypatch.setattr(contact_stream, "change_from_images", counting)
    records = [modify_record(hundred_segments, f"c{i}", {"score": 50}, i) for i in range(3)]
    answer = contact_stream.lambda_handler({"Records": records}, FakeLambdaContext(function_name="contact_stream"))
    assert answer == {"batchItemFailures": []}
    assert sorted(read) == ["c0", "c1", "c2"]  # once for the batch's claims and for applying it
    assert segments_repo.get(hundred_segments, "s050").member_count == 3


def test_a_batch_reads_its_contacts_memberships_together_not_one_read_per_contact(aws):
    from functions.contact_stream.app import lambda_handler

    tenant = score_segments("t-reads", 3, step=10)
    stamps.add(tenant, "s002", "c0", None, "2025-05-01T00:00:00.000Z")  # c0 leaves s002 (score 5 < 20)
    records = [modify_record(tenant, f"c{i}", {"score": 5 + i}, i) for i in range(40)]
    with RequestCounter() as requests:
        answer = lambda_handler({"Records": records}, FakeLambdaContext(function_name="contact_stream"))
    assert answer == {"batchItemFailures": []}
    # 40 contacts x 3 segments = 120 membership keys, 100 per read (one read each before: 40); the
    # segments' new totals are not read back (the container knows the counts it moves)
    assert requests.counts["BatchGetItem"] == 2
    assert set(memberships_repo.iter_members(tenant, "s000")) == {f"c{i}" for i in range(40)}
    assert set(memberships_repo.iter_members(tenant, "s001")) == {f"c{i}" for i in range(5, 40)}
    assert set(memberships_repo.iter_members(tenant, "s002")) == {f"c{i}" for i in range(15, 40)}
    assert segments_repo.get(tenant, "s000").member_count == 40


def test_claims_are_raw_requests_not_built_by_pynamodb_per_contact(aws, monkeypatch):
    """A claim is the same update every time but its values: built as a raw request, not through
    pynamodb's model and expression builder (which cost more CPU than the rest of the claim)."""
    from pynamodb.connection import Connection, TableConnection

    def refuse(*args, **kwargs):
        raise AssertionError("a claim went through pynamodb's expression builder")

    monkeypatch.setattr(Connection, "get_operation_kwargs", refuse)
    monkeypatch.setattr(TableConnection, "get_operation_kwargs", refuse)
    monkeypatch.setattr(Connection, "update_item", refuse)
    older, newer = "2025-06-01T00:00:00.000Z", "2025-06-02T00:00:00.000Z"
    assert stamps.claim_many([("t-raw", f"c{i}", older) for i in range(3)]) == {
        ("t-raw", f"c{i}", older) for i in range(3)
    }
    assert stamps.claim("t-raw", "c0", newer) and not stamps.claim("t-raw", "c0", older)
    assert stamps.claim("t-raw", "c9", older, None)  # with the rules check: no stamp stored yet
    monkeypatch.undo()
    assert stamps.watermark("t-raw", "c0") == newer and stamps.watermark("t-raw", "c9") == older


def test_memberships_are_read_raw_and_unprocessed_keys_are_read_again(aws, monkeypatch):
    """The batch's membership read builds no model per membership found, and a throttled part of the
    answer (UnprocessedKeys) is asked for again, not lost."""
    from audience.storage.base import connection

    for sid in ("s1", "s2", "s3"):
        stamps.add("t-read", sid, "c1", None, STAMP)
    stamps.add("t-read", "s2", "c2", None, STAMP)
    real = connection().client

    class Throttled:  # the first answer hands back all but one key as unprocessed
        calls = 0

        def batch_get_item(self, RequestItems):
            Throttled.calls += 1
            if Throttled.calls > 1:
                return real.batch_get_item(RequestItems=RequestItems)
            [(table, request)] = RequestItems.items()
            answer = real.batch_get_item(RequestItems={table: {**request, "Keys": request["Keys"][:1]}})
            return {**answer, "UnprocessedKeys": {table: {**request, "Keys": request["Keys"][1:]}}}

    class Connection:
        client = Throttled()

    def refuse(*args, **kwargs):
        raise AssertionError("a model was built per membership")

    monkeypatch.setattr(stamps, "connection", lambda: Connection())
    monkeypatch.setattr(stamps, "time", type("T", (), {"sleep": staticmethod(lambda s: None)}))
    monkeypatch.setattr(stamps.StampedMembership, "from_raw_data", classmethod(refuse))
    found = stamps.current_members_of_many("t-read", ["c1", "c2", "c3"], ["s1", "s2", "s3", "s4"])
    assert found == {"c1": {"s1", "s2", "s3"}, "c2": {"s2"}, "c3": set()}
    assert Throttled.calls == 2
