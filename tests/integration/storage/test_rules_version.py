"""The rules stamp around many rule-bearing writes (a run's evaluations): two PutItems in all, the
first before any write and pending until the last, whatever happens in between."""

from __future__ import annotations

import pytest
from audience.storage import rules_version, segments_repo

from bench.stream import RequestCounter


def _segment(tenant: str, segment_id: str) -> None:
    segments_repo.create(
        tenant,
        name=segment_id,
        type="dynamic",
        segment_id=segment_id,
        rules={"field": "score", "op": "gte", "value": 1},
    )


def test_evaluations_inside_one_bump_put_a_pending_stamp_first_and_a_settled_one_last(aws):
    for sid in ("a", "b", "c"):
        _segment("t-stamp", sid)
    before = rules_version.current("t-stamp")
    with RequestCounter() as requests, rules_version.one_bump("t-stamp"):
        for sid in ("a", "b", "c"):
            segments_repo.record_evaluation("t-stamp", sid, member_count=1, evaluated_at="2025-06-01T00:00:00.000Z")
            pending = rules_version.read("t-stamp")
            assert pending[1] is True and pending[0] != before
    assert requests.counts["PutItem"] == 2 and requests.counts["UpdateItem"] == 3, requests.counts
    stamp, is_pending = rules_version.read("t-stamp")
    assert not is_pending and stamp not in (before, pending[0])


def test_one_bump_without_writes_moves_nothing_and_a_failing_block_still_settles(aws):
    _segment("t-stamp", "a")
    before = rules_version.current("t-stamp")
    with RequestCounter() as requests, rules_version.one_bump("t-stamp"):
        pass
    assert requests.counts["PutItem"] == 0 and rules_version.current("t-stamp") == before
    with pytest.raises(RuntimeError), rules_version.one_bump("t-stamp"):
        segments_repo.record_evaluation("t-stamp", "a", member_count=1, evaluated_at="2025-06-01T00:00:00.000Z")
        raise RuntimeError("a later segment failed")
    assert rules_version.read("t-stamp")[1] is False and rules_version.current("t-stamp") != before


def test_nested_blocks_and_other_tenants_bump_as_they_should(aws):
    _segment("t-stamp", "a")
    _segment("t-other", "b")
    with RequestCounter() as requests, rules_version.one_bump("t-stamp"):
        with rules_version.one_bump("t-stamp"):
            segments_repo.record_evaluation("t-stamp", "a", member_count=1, evaluated_at="2025-06-01T00:00:00.000Z")
        assert rules_version.read("t-stamp")[1] is True  # the inner block's end settles nothing
        segments_repo.record_evaluation("t-other", "b", member_count=1, evaluated_at="2025-06-01T00:00:00.000Z")
        assert rules_version.read("t-other")[1] is False  # another tenant's write bumps as always
    assert requests.counts["PutItem"] == 3, requests.counts
    assert rules_version.read("t-stamp")[1] is False
