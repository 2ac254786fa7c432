"""A tenant without dynamic segments (a bulk import before any segment exists) has nothing for the
contact stream to decide: its records claim no watermark and write nothing, and a warm container
pays one consistent read of the tenant's rules stamp per batch for them. Once a dynamic segment
exists, the stream decides again, and an older record redelivered after a skipped newer one ends
with the newer image (``realtime.apply.TenantCache.quiet`` argues why)."""

from __future__ import annotations

import pytest
from audience.realtime import stamps
from audience.storage import memberships_repo, segments_repo

from bench.stream import RequestCounter
from tests.integration.api.conftest import FakeLambdaContext
from tests.integration.realtime.conftest import modify_record

pytestmark = pytest.mark.usefixtures("local_moto")

OLDER, NEWER = "2025-06-01T12:00:00.000Z", "2025-06-01T12:00:05.000Z"


def _deliver(records: list[dict]) -> dict:
    from functions.contact_stream.app import lambda_handler

    return lambda_handler({"Records": records}, FakeLambdaContext(function_name="contact_stream"))


def _batch(tenant: str, first: int, size: int, stamp: str = OLDER, score: int = 60) -> list[dict]:
    return [modify_record(tenant, f"c{i}", {"score": score}, i, stamp) for i in range(first, first + size)]


def _high(tenant: str) -> str:
    return segments_repo.create(
        tenant, name="High", type="dynamic", rules={"field": "score", "op": "gte", "value": 50}
    ).id


def test_a_batch_of_a_tenant_without_dynamic_segments_claims_nothing_and_reads_one_stamp(aws):
    tenant = "t-quiet"
    vip = segments_repo.create(tenant, name="VIP", type="static").id  # static only: nothing to decide
    memberships_repo.add_many(tenant, vip, ["c150"])
    assert _deliver(_batch(tenant, 0, 100)) == {"batchItemFailures": []}  # the container's first
    with RequestCounter() as requests:
        assert _deliver(_batch(tenant, 100, 100)) == {"batchItemFailures": []}
    assert requests.counts == {"GetItem": 1}  # the stamp of the kept rules, nothing else
    assert all(stamps.watermark(tenant, f"c{i}") is None for i in (0, 99, 100, 199))
    assert set(memberships_repo.iter_members(tenant, vip)) == {"c150"}


def test_a_lone_change_of_a_tenant_without_dynamic_segments_makes_no_transaction(aws):
    tenant = "t-quiet-lone"
    _deliver(_batch(tenant, 0, 1))
    with RequestCounter() as requests:
        assert _deliver(_batch(tenant, 1, 1)) == {"batchItemFailures": []}
    assert requests.counts == {"GetItem": 1}
    assert stamps.watermark(tenant, "c1") is None


def test_a_segment_created_while_a_container_keeps_no_segments_is_decided_from_the_next_batch(aws):
    tenant = "t-quiet-then-not"
    _deliver(_batch(tenant, 0, 100))  # the container keeps the tenant's rules: no segments
    high = _high(tenant)  # moves the rules stamp
    assert _deliver(_batch(tenant, 100, 100)) == {"batchItemFailures": []}
    assert set(memberships_repo.iter_members(tenant, high)) == {f"c{i}" for i in range(100, 200)}
    assert segments_repo.get(tenant, high).member_count == 100
    assert stamps.watermark(tenant, "c150") == OLDER and stamps.watermark(tenant, "c50") is None


@pytest.mark.parametrize("together", [True, False], ids=["one retried batch", "bisected"])
def test_an_older_record_redelivered_after_a_skipped_newer_one_ends_with_the_newer_image(aws, together):
    tenant = f"t-quiet-replay-{together}"
    older = modify_record(tenant, "c1", {"score": 90}, 1, OLDER)  # would join High
    newer = modify_record(tenant, "c1", {"score": 10}, 2, NEWER)  # does not
    others = _batch(tenant, 10, 5)
    assert _deliver([older, newer, *others]) == {"batchItemFailures": []}  # no segments: all skipped
    high = _high(tenant)
    # the event source mapping retries from a record before ``newer``: ``newer`` comes again after it
    if together:
        _deliver([older, newer, *others])
    else:
        _deliver([older])
        _deliver([newer, *others])
    assert set(memberships_repo.iter_members(tenant, high)) == {f"c{i}" for i in range(10, 15)}
    assert segments_repo.get(tenant, high).member_count == 5
    assert stamps.watermark(tenant, "c1") == NEWER


def test_an_erasure_of_a_tenant_without_dynamic_segments_still_removes_its_static_memberships(aws):

    tenant = "t-quiet-erased"
    vip = segments_repo.create(tenant, name="VIP", type="static").id
    memberships_repo.add_many(tenant, vip, ["c1"])
    erased = modify_record(tenant, "c1", {}, 1, NEWER)
    erased["dynamodb"]["NewImage"]["erased"] = {"BOOL": True}
    assert _deliver([erased, *_batch(tenant, 10, 3)]) == {"batchItemFailures": []}
    assert memberships_repo.segments_of(tenant, "c1") == []
    assert stamps.watermark(tenant, "c1") == NEWER
