"""One tenant's evaluation run: snapshot, one pass, placement, diff, write only what changed.

Order of a run (so that a run dying anywhere and running again converges):
1. take the tenant's lease in the run ledger (expiring: a dead run's lease is taken over by the next;
   runs still ``running``/``sharding``/``merging`` in the ledger are marked ``abandoned``); ``as_of``
   fixed once;
2. the event log compacted (``eventlog.compact``: new batches folded in, expired months dropped),
   then a new incremental snapshot (contacts changed since the last one; never a table scan);
3. one streaming pass of every dynamic segment, suppression and category placement (``engine``),
   split into shards by snapshot file (``shards``; above ``fan_out_files`` base files the shards go to
   EvaluateQueue instead, ``fanout``) — the answer is the same;
4. per segment (``finish``): the writes ``changes`` decides (diff against last run's Parquet state,
   corrected for what the real-time path did since), idempotent puts and deletes, then the new state
   and the day's history; then ``member_count``/``last_evaluated_at``/``evaluation_status``/``last_run``.
   A segment that fails is marked ``failed`` with its reason; the rest go on.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pyarrow as pa

from audience.evaluation import engine, fanout, shards, snapshots, state
from audience.evaluation.placement import Slot
from audience.evaluation.requests import new_run_id
from audience.evaluation.results import LEASE_SECONDS, RunResult, finish
from audience.eventlog import LogEvents, compact
from audience.fields import FieldCatalog
from audience.keysets import KeySet
from audience.rules import RuleValidationError, parse_rule, referenced_segments
from audience.settings import get_settings
from audience.storage import (
    eventlog_repo,
    fields_repo,
    memberships_repo,
    rules_version,
    runs_repo,
    segments_repo,
    suppression_repo,
)
from audience.storage.records import Segment
from audience.suppression import SuppressionPolicy


class LeaseHeld(RuntimeError):
    """Another live run holds the tenant's lease; this run did nothing."""


def run_tenant(
    tenant: str,
    *,
    segment_ids: Iterable[str] | None = None,
    as_of: datetime | None = None,
    run_id: str | None = None,
    shards: int = 1,
    s3=None,
    full_snapshot: bool = False,
    fan_out_files: int | None = None,
) -> RunResult:
    """Evaluate the tenant's dynamic segments (all, or ``segment_ids`` and what they depend on /
    what depends on them); raises ``LeaseHeld`` while another run of the tenant is alive.

    ``fan_out_files``: when the snapshot has more base files than this and EvaluateQueue is set, the
    run is split into shards of that many files, each sent to the queue (``fanout``); the returned
    result then has ``sharded`` set and no counts yet: the last shard to finish writes them."""
    started = time.monotonic()
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    run_id = run_id or new_run_id(as_of)
    settings = get_settings()
    s3 = s3 or boto3.client("s3", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    bucket = settings.data_bucket
    if not runs_repo.acquire_lease(tenant, run_id, LEASE_SECONDS):
        raise LeaseHeld(f"tenant {tenant!r} is being evaluated by another run")
    keep_lease = False
    try:
        _mark_abandoned(tenant, run_id)
        runs_repo.put_run(tenant, run_id, "running", as_of=as_of.isoformat())
        catalog = fields_repo.catalog(tenant)
        compact(tenant, s3, bucket=bucket, now=as_of, retention_days=eventlog_repo.retention_days(tenant))
        manifest = snapshots.build_snapshot(tenant, s3, full=full_snapshot, now=as_of, bucket=bucket, catalog=catalog)
        plan, failed = build_plan(tenant, catalog, as_of, manifest, s3, bucket, segment_ids)
        if fan_out_files and len(manifest.files) > fan_out_files and os.environ.get("EVALUATE_QUEUE_URL"):
            result = fanout.start(plan, manifest, run_id, failed, files_per_shard=fan_out_files, s3=s3, bucket=bucket)
            keep_lease = True  # the shard that finishes the run releases it
            return result
        pass_started = time.monotonic()
        members = _evaluate_isolating_failures(plan, manifest, s3, bucket, shards, failed)
        pass_ms = int((time.monotonic() - pass_started) * 1000)
        with rules_version.one_bump(tenant):  # the stamp moves twice per run, not once per segment
            return finish(tenant, run_id, as_of, manifest, plan, members, failed, s3=s3, bucket=bucket,
                          duration_ms=int((time.monotonic() - started) * 1000), pass_ms=pass_ms, shards=shards)
    except Exception as exc:
        runs_repo.put_run(tenant, run_id, "failed", as_of=as_of.isoformat(), detail={"error": str(exc)[:1000]})
        raise
    finally:
        if not keep_lease:
            runs_repo.release_lease(tenant, run_id)


def run_on_demand(tenant: str, *, segment_ids: Iterable[str] | None, run_id: str | None,
                  fan_out_files: int | None = None) -> RunResult | None:
    """An EvaluateQueue request: the run, or None when the ledger says this run id already ended
    (SQS delivers at least once; a redelivered request of a finished run does nothing)."""
    if run_id:
        recorded = runs_repo.get_run(tenant, run_id)
        if recorded is not None and recorded.status in ("succeeded", "failed", "abandoned"):
            return None
    return run_tenant(tenant, segment_ids=segment_ids, run_id=run_id, fan_out_files=fan_out_files)


def build_plan(
    tenant: str,
    catalog: FieldCatalog,
    as_of: datetime,
    manifest: snapshots.Manifest,
    s3,
    bucket: str,
    segment_ids: Iterable[str] | None = None,
    replaced_rules: dict[str, dict[str, Any]] | None = None,
) -> tuple[engine.Plan, dict[str, str]]:
    """Everything the pass needs: parsed rules (bad ones reported, not raised), the segments whose
    results are written, suppression, static placements, referenced memberships, events.
    ``replaced_rules``: segments evaluated with other rules than their stored ones (what-if)."""
    segments = {s.id: s for s in segments_repo.all_segments(tenant)}
    for sid, rules_document in (replaced_rules or {}).items():
        if sid in segments:
            segments[sid] = segments[sid].model_copy(update={"rules": rules_document})
    dynamic = {sid: s for sid, s in segments.items() if s.type == "dynamic" and s.rules}
    failures: dict[str, str] = {}
    rules = {}
    for sid, segment in dynamic.items():
        try:
            rules[sid] = parse_rule(segment.rules, catalog, segment_exists=segments.__contains__)
        except RuleValidationError as exc:
            failures[sid] = f"invalid rules: {exc}"
    targets = _targets(rules, dynamic, segment_ids)
    evaluated = _with_references(targets, rules)
    policy = SuppressionPolicy.from_document(suppression_repo.get(tenant).document, catalog)
    policy_document = policy.as_rule_document()
    suppression = parse_rule(policy_document, catalog) if policy_document else None
    documents = [dynamic[sid].rules for sid in evaluated] + ([policy_document] if policy_document else [])
    outside = set().union(*(referenced_segments(r) for r in [*(rules[s] for s in evaluated),
                                                             *([suppression] if suppression else [])]))
    outside -= set(evaluated)
    memberships: dict[str, pa.Array] = {}
    member_keys: dict[str, KeySet] = {}
    for sid in outside:
        memberships[sid], keys = _members_and_keys(tenant, sid, segments.get(sid), s3, bucket, manifest)
        if keys is not None:
            member_keys[sid] = keys
    categories = {dynamic[sid].category for sid in targets if dynamic[sid].category}
    static_by_category: dict[str, pa.Array] = {}
    for segment in segments.values():
        if segment.type == "static" and segment.category in categories:
            ids = list(memberships_repo.iter_members(tenant, segment.id))
            found = static_by_category.get(segment.category)
            merged = ids + (found.to_pylist() if found is not None else [])
            static_by_category[segment.category] = pa.array(merged, pa.string())
    uses_events, _ = engine.events_window(documents, as_of)
    events = LogEvents(tenant, s3, bucket) if uses_events else None
    columns = set().union(*(engine.contact_fields(d) for d in documents)) if documents else set()
    plan = engine.Plan(
        as_of=as_of,
        catalog=catalog,
        rules={sid: rules[sid] for sid in evaluated},
        slots=[Slot.of(dynamic[sid]) for sid in targets],
        suppression=suppression,
        events=events,
        memberships=memberships,
        member_keys=member_keys,
        static_by_category=static_by_category,
        columns=sorted(columns),
    )
    return plan, failures


def _targets(rules: dict, dynamic: dict[str, Segment], segment_ids: Iterable[str] | None) -> list[str]:
    """Segments whose results this run writes: all valid dynamic ones, or the asked ones plus every
    segment whose rules (transitively) reference them, plus the other segments of their categories
    (placement is decided among all of a category's segments at once)."""
    if segment_ids is None:
        return list(rules)
    wanted = {sid for sid in segment_ids if sid in rules}
    while True:
        grown = set(wanted)
        grown |= {sid for sid, rule in rules.items() if referenced_segments(rule) & wanted}
        categories = {dynamic[sid].category for sid in grown if dynamic[sid].category}
        grown |= {sid for sid in rules if dynamic[sid].category in categories}
        if grown == wanted:
            return sorted(wanted)
        wanted = grown


def _with_references(targets: list[str], rules: dict) -> list[str]:
    """Targets plus the dynamic segments they reference (evaluated in the pass, not written)."""
    found = list(targets)
    queue = list(targets)
    while queue:
        for ref in referenced_segments(rules[queue.pop()]):
            if ref in rules and ref not in found:
                found.append(ref)
                queue.append(ref)
    return found


def _members(tenant: str, segment_id: str, segment: Segment | None, s3, bucket: str) -> pa.Array:
    if segment is None:
        return pa.array([], pa.string())
    if segment.type == "dynamic":
        return state.previous_members(tenant, segment_id, s3, bucket)
    return pa.array(list(memberships_repo.iter_members(tenant, segment_id)), pa.string())


def _members_and_keys(tenant: str, segment_id: str, segment: Segment | None, s3, bucket: str,
                      manifest: snapshots.Manifest) -> tuple[pa.Array, KeySet | None]:
    """A referenced segment's member ids (``_members``), and their keys when last run's state holds
    keys of the snapshot's key space (the pass then looks batches read with keys up by key; the ids
    serve batches without keys and fanned-out shards)."""
    found = None
    if segment is not None and segment.type == "dynamic" and manifest.key_space:
        found = state.read_state(tenant, segment_id, s3, bucket, keys=True)
    if found is None:
        return _members(tenant, segment_id, segment, s3, bucket), None
    ids = state.member_ids(tenant, found, s3, bucket)  # a keys-only state's from its key directory
    if (found.keys is None and not found.keys_only) or found.key_space != manifest.key_space:
        return ids, None
    if found.key_set is not None:  # kept with the state: no scatter of every member's key
        return ids, found.key_set
    return ids, KeySet.of(found.keys.to_numpy(zero_copy_only=False), manifest.next_key)


def _evaluate_isolating_failures(plan, manifest, s3, bucket, shard_count, failed: dict[str, str]):
    """The pass; when a rule breaks it, the broken segments are found one by one, marked, and the
    pass runs again without them (and without what references them)."""
    for _ in range(3):
        plan.rules = {sid: r for sid, r in plan.rules.items() if sid not in failed}
        plan.slots = [s for s in plan.slots if s.id not in failed]
        try:
            return shards.evaluate_sharded(plan, manifest, s3, shard_count, bucket=bucket, keys=True)
        except Exception:  # noqa: BLE001 - find the culprit below
            first = next(snapshots.iter_batches(manifest, s3, plan.catalog, bucket=bucket, columns=plan.columns,
                                                dictionary=True), None)
            culprits = engine.failing_segments(plan, first)
            if not culprits:
                raise
            failed.update(culprits)
            for sid, rule in plan.rules.items():
                if referenced_segments(rule) & set(culprits) and sid not in failed:
                    failed[sid] = "references a segment whose evaluation failed"
    raise RuntimeError("evaluation kept failing")


def _mark_abandoned(tenant: str, run_id: str) -> None:
    """Runs still ``running`` (or a fan-out still ``sharding``/``merging``) died: we hold the lease now.
    Marking them also fences a late shard of a fanned-out run: it can no longer move the run to
    ``merging``, so it never writes over this run."""
    for run in runs_repo.recent_runs(tenant, limit=5):
        if run.status in ("running", "sharding", "merging") and run.run_id != run_id:
            runs_repo.put_run(tenant, run.run_id, "abandoned", as_of=run.as_of, snapshot_id=run.snapshot_id,
                              detail={**run.detail, "recovered_by": run_id})


@dataclass
class ScheduledRuns:
    results: list[RunResult] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # lease held or failed: {tenant_id, reason}
    queued: list[str] = field(default_factory=list)  # left for EvaluateQueue: this invocation ran out of time


RESERVE_SECONDS = 300  # a tenant is started only with this much of the invocation left


def run_every_tenant(
    *,
    as_of: datetime | None = None,
    fan_out_files: int | None = None,
    seconds_left: Callable[[], float] | None = None,
) -> ScheduledRuns:
    """The scheduled job: every tenant (listed from the tenant registry, no scan), one after another.
    A tenant whose lease is held or whose run fails is reported and skipped; the others still run.
    When ``seconds_left()`` drops under ``RESERVE_SECONDS``, the remaining tenants are sent to
    EvaluateQueue (each its own on-demand run) instead of being dropped by a timeout."""
    from audience.storage import tenants_repo

    as_of = as_of or datetime.now(UTC)
    outcome = ScheduledRuns()
    for tenant in tenants_repo.list_tenant_ids():
        if outcome.queued or (seconds_left is not None and seconds_left() < RESERVE_SECONDS):
            outcome.queued.append(tenant)
            continue
        try:
            outcome.results.append(run_tenant(tenant, as_of=as_of, fan_out_files=fan_out_files))
        except LeaseHeld as exc:
            outcome.skipped.append({"tenant_id": tenant, "reason": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one tenant's failure must not stop the others
            outcome.skipped.append({"tenant_id": tenant, "reason": f"{type(exc).__name__}: {exc}"[:500]})
    if outcome.queued:
        _queue_tenants(outcome.queued)
    return outcome


def _queue_tenants(tenants: list[str]) -> None:
    settings = get_settings()
    sqs = boto3.client("sqs", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    entries = [{"Id": str(n), "MessageBody": json.dumps({"tenant_id": t})} for n, t in enumerate(tenants)]
    for first in range(0, len(entries), 10):
        answer = sqs.send_message_batch(QueueUrl=os.environ["EVALUATE_QUEUE_URL"], Entries=entries[first:first + 10])
        if answer.get("Failed"):
            raise RuntimeError(f"could not queue tenants: {answer['Failed']}")
