"""The local stack's process after start-up: what start-up built is out of the cyclic collector's
view, and young collections come less often (``infra.localstack.settle_heap``)."""

from __future__ import annotations

import gc

import pytest

from infra import localstack


@pytest.fixture
def restored_collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_start_up_objects_are_frozen_and_young_collections_come_less_often(restored_collector):
    built_at_start_up = [{"client": object()} for _ in range(3)]  # containers the collector tracks
    localstack.settle_heap()

    assert gc.get_freeze_count() > 0
    tracked = {id(o) for o in gc.get_objects()}
    assert not any(id(o) in tracked for o in built_at_start_up)  # never walked again
    assert gc.get_threshold()[0] == localstack.YOUNG_COLLECTION_THRESHOLD
    later = [{"made": object()}]
    assert id(later) in {id(o) for o in gc.get_objects()}  # what comes later is collected as before
