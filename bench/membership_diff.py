"""Membership diff for 1% daily churn on a 3,000,000-member segment: how many delta items the run
must write, and what computing them costs.

The previous run's membership is read back from Parquet (as the evaluator keeps it in S3), the new
membership is diffed against it with the run's own diff (`audience.evaluation.changes.diff`: both
sides sorted, one looked up in the other slice by slice) and, for comparison, with two whole-set
Arrow `is_in`, and the new membership is written back. The run's keyed diff
(`audience.evaluation.keyed.diff`: last run's state as the run keeps it, with its keys' bitmap,
against the segment's key set over a pass of every contact; only the changed members' ids taken) is
timed beside it, its state read apart, and for comparison the same diff as a boolean mask per
segment over every contact (PITFALLS). Writing the delta items to DynamoDB is measured by the
evaluator's own benchmark (`bench/evaluation.py`) when it exists.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from audience.evaluation import keyed, state
from audience.evaluation.changes import diff as run_diff
from audience.keysets import KeySet

from bench.datagen import _arange, _ids


class _Objects:
    """The two S3 calls ``state`` makes, in memory: the state's bytes as the run writes them."""

    class exceptions:  # noqa: N801 - as boto3 names it
        NoSuchKey = KeyError

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803
        self.objects[Key] = Body

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        return {"Body": io.BytesIO(self.objects[Key])}


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def membership_diff(members: int = 3_000_000, churn: float = 0.01, *, seed: int = 5) -> dict[str, Any]:
    """`churn` of `members` changes: half leave, half join (1% of 3M = 30,000 delta items)."""
    changes = int(members * churn)
    leaving = changes // 2
    joining = changes - leaving
    index = _arange(members)
    # leavers: a seeded random sample of the old members; joiners: new contact ids
    leave_mask = pc.less(pc.random(members, initializer=seed), leaving / members)
    old_ids = _ids(index)
    new_index = pa.concat_arrays([index.filter(pc.invert(leave_mask)), _arange(joining, members)])
    new_ids = _ids(new_index)
    actually_leaving = pc.sum(leave_mask).as_py()

    with tempfile.TemporaryDirectory(prefix="audience-diff-") as folder:
        previous = Path(folder) / "previous.parquet"
        pq.write_table(pa.table({"contact_id": old_ids}), previous)
        old, read_s = _timed(lambda: pq.read_table(previous).column("contact_id").combine_chunks())

        def hashed_diff():  # the plain form: two whole-set `is_in`
            added = new_ids.filter(pc.invert(pc.is_in(new_ids, value_set=old)))
            removed = old.filter(pc.invert(pc.is_in(old, value_set=new_ids)))
            return added, removed

        (added, removed), diff_s = _timed(lambda: run_diff(old, new_ids))
        (plain_added, plain_removed), hashed_s = _timed(hashed_diff)
        if not (added.equals(plain_added) and removed.equals(plain_removed)):
            raise AssertionError("the run's diff and the plain is_in diff disagree")
        _, write_s = _timed(lambda: pq.write_table(pa.table({"contact_id": new_ids}), Path(folder) / "next.parquet"))
        # as a run holds them: last run's state as the run writes and reads it (ids, keys and the
        # keys' bitmap, ``state``), the pass's contacts (every contact of the tenant, the leavers
        # too, each keyed by its position as over a full build's files) and the segment's key set;
        # the diff is the pass's first, so it pays the pass's one-off checks (``positions_of``)
        store = _Objects()
        state.write_state("bench", "segment", old, store, "bench", keys=index.cast(pa.uint32()), key_space="bench")
        kept, keyed_read_s = _timed(lambda: state.read_state("bench", "segment", store, "bench", keys=True))
        everyone = _arange(members + joining)
        contacts = keyed.PassContacts(_ids(everyone), everyone.cast(pa.uint32()).to_numpy())
        after = keyed.KeyedMembers(KeySet.of(new_index.cast(pa.uint32()).to_numpy(), members + joining), contacts)
        # a first diff over another pass object pays the process's one-off costs, which a run's pass has
        # paid long before its diffs (the first ``pa.array`` of a numpy array imports numpy.ma: ~20 ms);
        # the timed diff is still its own pass's first (``positions_of``'s one scan of the pass)
        spare = keyed.PassContacts(contacts.ids, contacts.keys)
        keyed.diff(kept.members, kept.keys, keyed.KeyedMembers(after.keys, spare), kept.key_set)
        (key_added, key_removed), keyed_s = _timed(lambda: keyed.diff(kept.members, kept.keys, after, kept.key_set))
        if not (key_added.equals(added) and key_removed.equals(removed)):
            raise AssertionError("the keyed diff and the run's string diff disagree")

    # The same diff over a stable integer index: one boolean per contact of the tenant.
    universe = members + joining
    old_mask = pc.less(_arange(universe), members)
    new_mask = pc.fill_null(pc.is_in(_arange(universe), value_set=new_index), False)

    def bitmap_diff():
        return pc.sum(pc.and_not(new_mask, old_mask)).as_py(), pc.sum(pc.and_not(old_mask, new_mask)).as_py()

    (bit_added, bit_removed), bitmap_s = _timed(bitmap_diff)
    if (bit_added, bit_removed) != (len(added), len(removed)):
        raise AssertionError("bitmap and string diffs disagree")
    return {
        "members": members,
        "churn": churn,
        "added": len(added),
        "removed": len(removed),
        "expected_removed": actually_leaving,
        "delta_items": len(added) + len(removed),
        "read_previous_s": read_s,
        "string_diff_s": diff_s,
        "keyed_diff_s": keyed_s,
        "read_keyed_state_s": keyed_read_s,
        "hashed_diff_s": hashed_s,
        "write_next_s": write_s,
        "bitmap_diff_s": bitmap_s,
    }
