"""Writing a run's results, shared by an in-process run (``run``) and the last shard of a fanned-out
one (``fanout``): per segment the memberships that changed, its state and history, then counts,
failures and the run's ledger record."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from audience.evaluation import changes, engine, key_directory, keyed, snapshots, state
from audience.storage import batch, history_repo, memberships_repo, runs_repo, segments_repo
from audience.storage.membership_history_repo import Cause
from audience.storage.membership_history_repo import stamp as _stamp
from audience.storage.models import HistoryDayItem, MembershipItem
from audience.storage.records import Segment

WRITE_SLICE = 20_000  # memberships handed to the batch writer at once: a first run of a huge segment
# never holds millions of items in memory (with SEGMENT_WRITERS slices at once, about the 50,000 of one
# segment at a time before)
SEGMENT_WRITERS = 3  # segments written at once: each segment's own requests before and after its batch
# writes (state read, previous members, state and counters written) and the building of its items then
# overlap another segment's batches, instead of leaving the table idle between segments
LEASE_SECONDS = 15 * 60  # longer than the evaluator's Lambda timeout: a live run never loses it


@dataclass
class RunResult:
    tenant_id: str
    run_id: str
    as_of: datetime
    snapshot_id: str
    segments: dict[str, int] = field(default_factory=dict)  # member counts of segments evaluated
    failed: dict[str, str] = field(default_factory=dict)  # segment id -> reason
    changes: dict[str, dict[str, int]] = field(default_factory=dict)  # segment id -> {"added", "removed"}
    duration_ms: int = 0
    sharded: int = 0  # shards sent to EvaluateQueue (0: evaluated here)

    def summary(self) -> dict[str, Any]:
        """SPEC §6's per-tenant entry."""
        return {
            "tenant_id": self.tenant_id,
            "as_of": self.as_of.isoformat().replace("+00:00", "Z"),
            "snapshot_id": self.snapshot_id,
            "segments": dict(self.segments),
            **({"run_id": self.run_id, "status": "sharded", "shards": self.sharded} if self.sharded else {}),
        }


def finish(
    tenant: str,
    run_id: str,
    as_of: datetime,
    manifest: snapshots.Manifest,
    plan: engine.Plan,
    members: dict[str, pa.Array] | dict[str, keyed.KeyedMembers],
    failed: dict[str, str],
    *,
    s3,
    bucket: str,
    duration_ms: int,
    pass_ms: int,
    shards: int,
) -> RunResult:
    """Write a run's results (every segment of ``plan.slots``): memberships, state, history, counts,
    failures, and the ledger's record of the run."""
    result = RunResult(tenant, run_id, as_of, manifest.snapshot_id, failed=dict(failed))
    segments = {s.id: s for s in segments_repo.all_segments(tenant)}
    touches = StreamTouches(tenant)
    timings: dict[str, int] = {}

    def write(segment: Segment, found: pa.Array | keyed.KeyedMembers) -> changes.Change | Exception:
        began = time.monotonic()
        try:
            return _apply(tenant, segment, found, as_of, s3, bucket, snapshot_cut=manifest.watermark,
                          touches=touches, run_id=run_id, key_space=manifest.key_space,
                          keys_only=bool(manifest.key_space and manifest.key_directory))
        except Exception as exc:  # noqa: BLE001 - one segment's failure must not stop the others
            return exc
        finally:
            timings[segment.id] = int((time.monotonic() - began) * 1000)

    writes_began = time.monotonic()
    from audience.realtime.stamps import StreamWatermark  # as ``StreamTouches`` imports it

    # the models the segment writers read and write through: each writer thread that found a model
    # without a client built its own, from a new botocore session (~0.1-0.2 s of CPU each)
    for model in (MembershipItem, HistoryDayItem, StreamWatermark):
        batch.build_client(model)
    todo = [slot.id for slot in plan.slots
            if slot.id not in result.failed and slot.id in members and slot.id in segments]
    with ThreadPoolExecutor(max_workers=max(1, min(SEGMENT_WRITERS, len(todo)))) as pool:
        done = [(sid, pool.submit(write, segments[sid], members.pop(sid))) for sid in todo]
        for sid, future in done:  # in the plan's order, as the results are reported
            change = future.result()
            if isinstance(change, Exception):
                result.failed[sid] = f"{type(change).__name__}: {change}"
            else:
                result.changes[sid] = {"added": len(change.added), "removed": len(change.removed)}
                result.segments[sid] = change.member_count
    writes_ms = int((time.monotonic() - writes_began) * 1000)
    for sid, reason in result.failed.items():
        segments_repo.record_evaluation(
            tenant, sid, member_count=segments[sid].member_count if sid in segments else 0,
            evaluated_at=_iso(as_of), status="failed", error=reason[:1000],
        )
    result.duration_ms = duration_ms + writes_ms
    for sid, count in result.segments.items():  # after the loop: the run's whole duration is known
        segments_repo.record_evaluation(tenant, sid, member_count=count, evaluated_at=_iso(as_of), last_run={
            "run_id": run_id, "duration_ms": result.duration_ms, "pass_ms": pass_ms,
            "segments_in_pass": len(plan.rules), "write_ms": timings.get(sid, 0), "writes_ms": writes_ms,
            "snapshot_cut": manifest.watermark, **result.changes[sid]})
    runs_repo.put_run(
        tenant, run_id, "failed" if result.failed and not result.segments else "succeeded",
        as_of=as_of.isoformat(), snapshot_id=manifest.snapshot_id,
        detail={
            "duration_ms": result.duration_ms,
            "segments": {sid: {**change, "member_count": result.segments[sid], "write_ms": timings.get(sid, 0)}
                         for sid, change in result.changes.items()},
            "failed": result.failed,
            "pass_ms": pass_ms,
            "writes_ms": writes_ms,
            "shards": shards,
        },
    )
    return result


class StreamTouches:
    """Contacts the real-time path changed (``{contact_id: seen_at}``), read once per distinct
    "since" in a run (segments evaluated by the same last run share their cut)."""

    def __init__(self, tenant: str):
        self.tenant = tenant
        self._cache: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()  # segments are written from several threads: one read per cut

    def since(self, moment: str | None) -> dict[str, str]:
        key = moment or ""
        with self._lock:
            if key not in self._cache:
                from audience.realtime import stamps

                self._cache[key] = dict(stamps.changed_after(self.tenant, key))
            return self._cache[key]


def _apply(tenant: str, segment: Segment, members: pa.Array | keyed.KeyedMembers, as_of: datetime, s3, bucket: str,
           *, snapshot_cut: str | None, touches: StreamTouches, run_id: str | None = None,
           key_space: str | None = None, keys_only: bool = False) -> changes.Change:
    """Write one segment's result: only the changed memberships (``changes``), each with its history
    entry in the same batched requests, then the state and the day's counters (``finish`` then sets
    the count). Memberships first: a run dying after them is repaired by the next run. Members with
    contact keys are diffed on the keys (``keyed``) when the state holds keys of the same key space.

    ``keys_only``: the snapshot's key space has a complete key directory, so the state is written
    as keys alone (``state``) and ids are taken only for the changed members — every member's ids
    (``in_order``) only when the diff falls back to strings (no keyed state of this key space)."""
    found = state.read_state(tenant, segment.id, s3, bucket, keys=True)
    base_is_table = found is None
    previous = found or state.previous_state(tenant, segment.id, s3, bucket)
    since = snapshot_cut if base_is_table else previous.cut
    if since and snapshot_cut and snapshot_cut < since:
        since = snapshot_cut
    recent, newer = changes.touched_groups(touches.since(since), previous.cut, snapshot_cut, base_is_table)
    stored = lambda ids: memberships_repo.existing(tenant, segment.id, ids, consistent=True)  # noqa: E731
    keys = key_set = None
    previous_ids = previous.members
    if previous.keys_only and not (isinstance(members, keyed.KeyedMembers) and previous.key_space == key_space):
        previous_ids = state.member_ids(tenant, previous, s3, bucket)  # another key space: named by its directory
    if isinstance(members, keyed.KeyedMembers):
        if key_space and previous.key_space == key_space and (previous.keys is not None or previous.keys_only):
            gone = lambda left: key_directory.ids_of(tenant, key_space, left, s3, bucket)  # noqa: E731
            change = keyed.segment_change(previous_ids, previous.keys, members, previous_set=previous.key_set,
                                          recent=recent, newer=newer, stored=stored, ids_of_gone=gone)
            ordered = None
        else:
            # the state's ids, sorted (a string diff of it, as trust's what-if makes, is the sorted one)
            ordered = members.in_order()
            change = changes.segment_change(previous_ids, ordered.ids, recent=recent, newer=newer, stored=stored)
        if keys_only and key_space:
            members, key_set = None, members.keys
        else:
            ordered = ordered or members.in_order()
            members, keys = ordered.ids, ordered.keys
    else:
        members = changes.in_order(members)
        change = changes.segment_change(previous_ids, members, recent=recent, newer=newer, stored=stored)
    cause = Cause("run", run_id=run_id, rules_version=segment.version, at=_stamp(as_of))
    for first in range(0, len(change.added), WRITE_SLICE):
        ids = change.added.slice(first, WRITE_SLICE).to_pylist()
        memberships_repo.add_many(tenant, segment.id, ids, source="dynamic", category=segment.category, history=cause)
    for first in range(0, len(change.removed), WRITE_SLICE):
        memberships_repo.remove_many(tenant, segment.id, change.removed.slice(first, WRITE_SLICE).to_pylist(),
                                     history=cause)
    state.write_state(tenant, segment.id, members, s3, bucket, cut=snapshot_cut, keys=keys, key_space=key_space,
                      key_set=key_set)
    history_repo.add_day(tenant, segment.id, as_of.date().isoformat(), len(change.added), len(change.removed),
                         change.member_count)
    return change


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
