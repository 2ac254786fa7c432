"""New contact keys are numbered from the manifest's next key, only where a gap is to be filled."""

from __future__ import annotations

import pyarrow as pa
from audience.evaluation import snapshots


class _Manifest:
    def __init__(self, next_key: int) -> None:
        self.next_key = next_key


def test_an_erased_stranger_before_the_first_new_contact_of_a_new_key_space_gets_no_key():
    # hypothesis found it: the running count before the first gap is 0, and 0 + next_key - 1 is -1
    manifest = _Manifest(next_key=0)
    keys = snapshots._fill_new_keys(None, 3, manifest, only=pa.array([False, True, True]))
    assert keys.to_pylist() == [None, 0, 1] and keys.type == snapshots.KEY_TYPE
    assert manifest.next_key == 2


def test_known_keys_are_kept_and_gaps_numbered_in_order():
    manifest = _Manifest(next_key=7)
    keys = snapshots._fill_new_keys(pa.array([3, None, 5, None], pa.uint32()), 4, manifest)
    assert keys.to_pylist() == [3, 7, 5, 8] and manifest.next_key == 9
