"""The local moto child's collector walks a stored item in one full collection, not in every one."""

from __future__ import annotations

import gc

from infra.local_moto import freeze_after_full_collections


class Stored:
    """A stand-in for moto's stored objects (tracked by the collector, like moto's items)."""


def test_survivors_of_a_full_collection_are_not_walked_by_the_next():
    stored = [Stored() for _ in range(1_000)]
    before = list(gc.callbacks)
    try:
        freeze_after_full_collections()
        freeze_after_full_collections()  # once is enough
        assert len(gc.callbacks) == len(before) + 1
        gc.collect()
        assert gc.get_freeze_count() >= len(stored)
        assert not any(item is stored[0] for item in gc.get_objects(generation=2))
    finally:
        gc.callbacks[:] = before
        gc.unfreeze()
