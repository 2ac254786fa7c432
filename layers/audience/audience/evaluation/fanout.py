"""A run fanned out over EvaluateQueue: shards of a large tenant's snapshot evaluated by separate
Lambdas at once, the last one to finish writing the run's results.

The coordinator (``run.run_tenant`` with ``fan_out_files``) holds the tenant's lease, cuts the
snapshot and builds the plan as usual, then:

1. finds rules that fail up front (a shard alone could not isolate them) and leaves them out;
2. saves the plan under ``tenants/{t}/runs/{run_id}/`` in DATA_BUCKET (``plan.json``: rules as
   JSON, slots, suppression, columns, shards; ``plan-ids.parquet``: the referenced memberships and
   static placements, frozen so every shard sees the same ones);
3. marks the run ``sharding`` in the ledger and sends one ``{"tenant_id", "run_id", "shard"}``
   message per shard.

A shard worker (``run_shard``) extends the lease (still the run's: a run whose lease was taken over
stops), evaluates its files and writes ``shard-{n}.parquet`` (segment_id, contact_id). A redelivered
message finds its file and skips the work. Once every shard file exists, the worker that moves the
run from ``sharding`` to ``merging`` (conditional update: exactly one) merges the files and writes
the results with the same ``results.finish`` as an in-process run, then releases the lease. A worker
dying mid-merge leaves the run ``merging``; the lease expires and the next run marks it
``abandoned`` and converges (its writes are idempotent diffs). A finished run's folder is deleted.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from audience.evaluation import engine, results, shards, snapshots
from audience.evaluation.placement import Slot
from audience.eventlog import LogEvents
from audience.fields import BUILTIN_FIELDS, FieldCatalog, FieldType
from audience.rules import parse_rule, referenced_segments, rule_to_json
from audience.settings import get_settings
from audience.storage import rules_version, runs_repo
from audience.storage.base import now_iso


def run_prefix(tenant: str, run_id: str) -> str:
    return f"tenants/{tenant}/runs/{run_id}/"


def shard_key(tenant: str, run_id: str, index: int) -> str:
    return f"{run_prefix(tenant, run_id)}shard-{index:05d}.parquet"


def shard_message(tenant: str, run_id: str, index: int) -> dict[str, Any]:
    return {"tenant_id": tenant, "run_id": run_id, "shard": index}


def start(plan: engine.Plan, manifest: snapshots.Manifest, run_id: str, failed: dict[str, str], *,
          files_per_shard: int, s3, bucket: str, sqs=None):
    """Save the plan, mark the run ``sharding`` and queue its shards; the ``RunResult`` says how many."""
    tenant = manifest.tenant_id
    _leave_out_failing(plan, manifest, s3, bucket, failed)
    split = shards.split(manifest, math.ceil(len(manifest.files) / files_per_shard))
    _save_plan(plan, manifest, run_id, split, failed, s3, bucket)
    runs_repo.put_run(tenant, run_id, "sharding", as_of=plan.as_of.isoformat(), snapshot_id=manifest.snapshot_id,
                      detail={"shards": len(split), "started_at": now_iso(), "failed": failed})
    settings = get_settings()
    sqs = sqs or boto3.client("sqs", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    entries = [{"Id": str(s.index), "MessageBody": json.dumps(shard_message(tenant, run_id, s.index))} for s in split]
    for first in range(0, len(entries), 10):
        answer = sqs.send_message_batch(QueueUrl=os.environ["EVALUATE_QUEUE_URL"], Entries=entries[first:first + 10])
        if answer.get("Failed"):
            raise RuntimeError(f"could not queue shards: {answer['Failed']}")
    return results.RunResult(tenant, run_id, plan.as_of, manifest.snapshot_id, failed=dict(failed), sharded=len(split))


def run_shard(tenant: str, run_id: str, index: int, *, s3=None):
    """Evaluate one shard; the ``RunResult`` when this call finished the run, else None."""
    settings = get_settings()
    s3 = s3 or boto3.client("s3", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    bucket = settings.data_bucket
    record = runs_repo.get_run(tenant, run_id)
    if record is None or record.status != "sharding":
        return None  # finished, or abandoned and taken over: nothing left to do
    if not runs_repo.acquire_lease(tenant, run_id, results.LEASE_SECONDS):
        return None  # the lease expired and another run holds it: this run is over
    plan, manifest, split, failed = load_plan(tenant, run_id, s3, bucket)
    key = shard_key(tenant, run_id, index)
    if not _exists(s3, bucket, key):
        result = shards.evaluate_shard(plan, manifest, split[index], s3, bucket=bucket)
        _put_parquet(s3, bucket, key, _long_table(result))
    if _finished_shards(s3, bucket, tenant, run_id) < len(split):
        return None
    if not runs_repo.acquire_lease(tenant, run_id, results.LEASE_SECONDS):
        return None  # taken over while this shard was evaluated
    if not runs_repo.transition(tenant, run_id, "sharding", "merging"):
        return None  # another shard is finishing the run
    members = merge(s3, bucket, tenant, run_id, len(split), [slot.id for slot in plan.slots])
    started = datetime.fromisoformat((record.detail or {}).get("started_at", now_iso()).replace("Z", "+00:00"))
    duration_ms = int((datetime.now(UTC) - started).total_seconds() * 1000)
    try:
        with rules_version.one_bump(tenant):  # the stamp moves twice per run, as an in-process run's does
            result = results.finish(tenant, run_id, plan.as_of, manifest, plan, members, failed, s3=s3,
                                    bucket=bucket, duration_ms=duration_ms, pass_ms=duration_ms, shards=len(split))
    finally:
        runs_repo.release_lease(tenant, run_id)
    _delete_run_folder(s3, bucket, tenant, run_id)  # later redeliveries stop at the ledger's status
    return result


def merge(s3, bucket: str, tenant: str, run_id: str, count: int, segment_ids: list[str]) -> dict[str, pa.Array]:
    """Every shard file's ids per segment (shards hold disjoint contacts)."""
    table = pa.concat_tables([_get_parquet(s3, bucket, shard_key(tenant, run_id, i)) for i in range(count)])
    return {sid: pc.filter(table.column("contact_id"), pc.equal(table.column("segment_id"), sid)).combine_chunks()
            for sid in segment_ids}


def load_plan(tenant: str, run_id: str, s3, bucket: str):
    """``(plan, manifest, shards, failed)`` as the coordinator saved them."""
    prefix = run_prefix(tenant, run_id)
    saved = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "plan.json")["Body"].read())
    catalog = FieldCatalog({name: FieldType(kind) for name, kind in saved["catalog"].items()})
    manifest = snapshots.read_manifest(tenant, saved["snapshot_id"], s3, bucket)
    as_of = datetime.fromisoformat(saved["as_of"])
    rules = {sid: parse_rule(document, catalog) for sid, document in saved["rules"].items()}
    suppression = parse_rule(saved["suppression"], catalog) if saved["suppression"] else None
    uses_events, _ = engine.events_window([*saved["rules"].values(), saved["suppression"]], as_of)
    ids = _get_parquet(s3, bucket, prefix + "plan-ids.parquet")
    grouped: dict[tuple[str, str], pa.Array] = {}
    for kind, key in {(k, v) for k, v in zip(ids.column("kind").to_pylist(), ids.column("key").to_pylist(),
                                                strict=True)}:
        chosen = pc.and_(pc.equal(ids.column("kind"), kind), pc.equal(ids.column("key"), key))
        grouped[(kind, key)] = pc.filter(ids.column("contact_id"), chosen).combine_chunks()
    memberships = {sid: grouped.get(("member", sid), pa.array([], pa.string())) for sid in saved["memberships"]}
    static = {c: grouped.get(("static", c), pa.array([], pa.string())) for c in saved["static_categories"]}
    plan = engine.Plan(
        as_of=as_of, catalog=catalog, rules=rules, slots=[Slot(**slot) for slot in saved["slots"]],
        suppression=suppression,
        events=LogEvents(tenant, s3, bucket) if uses_events else None,
        memberships=memberships, static_by_category=static, columns=saved["columns"],
    )
    split = [shards.Shard(s["index"], tuple(s["files"]), s["include_delta"]) for s in saved["shards"]]
    return plan, manifest, split, dict(saved["failed"])


def _leave_out_failing(plan: engine.Plan, manifest: snapshots.Manifest, s3, bucket: str, failed: dict[str, str]):
    first_file = [manifest.files[0]["key"]] if manifest.files else []
    batch = next(snapshots.iter_batches(manifest, s3, plan.catalog, bucket=bucket, files=first_file,
                                        include_delta=not first_file, columns=plan.columns, dictionary=True), None)
    failed.update(engine.failing_segments(plan, batch))
    grown = True
    while grown:
        grown = False
        for sid, rule in plan.rules.items():
            if sid not in failed and referenced_segments(rule) & set(failed):
                failed[sid] = "references a segment whose evaluation failed"
                grown = True
    plan.rules = {sid: rule for sid, rule in plan.rules.items() if sid not in failed}
    plan.slots = [slot for slot in plan.slots if slot.id not in failed]


def _save_plan(plan: engine.Plan, manifest: snapshots.Manifest, run_id: str, split: list[shards.Shard],
               failed: dict[str, str], s3, bucket: str) -> None:
    tenant = manifest.tenant_id
    prefix = run_prefix(tenant, run_id)
    saved = {
        "snapshot_id": manifest.snapshot_id,
        "as_of": plan.as_of.isoformat(),
        "catalog": {n: FieldType(t).value for n, t in plan.catalog.fields.items() if n not in BUILTIN_FIELDS},
        "rules": {sid: rule_to_json(rule) for sid, rule in plan.rules.items()},
        "suppression": rule_to_json(plan.suppression) if plan.suppression is not None else None,
        "slots": [asdict(slot) for slot in plan.slots],
        "columns": plan.columns,
        "memberships": sorted(plan.memberships),
        "static_categories": sorted(plan.static_by_category),
        "shards": [{"index": s.index, "files": list(s.files), "include_delta": s.include_delta} for s in split],
        "failed": failed,
    }
    parts = [_labelled("member", sid, ids) for sid, ids in plan.memberships.items()]
    parts += [_labelled("static", category, ids) for category, ids in plan.static_by_category.items()]
    ids = pa.concat_tables(parts) if parts else _labelled("member", "", pa.array([], pa.string()))
    _put_parquet(s3, bucket, prefix + "plan-ids.parquet", ids)
    s3.put_object(Bucket=bucket, Key=prefix + "plan.json", Body=json.dumps(saved).encode())


def _labelled(kind: str, key: str, ids: pa.Array) -> pa.Table:
    size = len(ids)
    return pa.table({"kind": pa.array([kind] * size, pa.string()), "key": pa.array([key] * size, pa.string()),
                     "contact_id": ids.cast(pa.string())})


def _long_table(result: dict[str, pa.Array]) -> pa.Table:
    parts = [pa.table({"segment_id": pa.array([sid] * len(ids), pa.string()), "contact_id": ids.cast(pa.string())})
             for sid, ids in result.items()]
    empty = pa.table({"segment_id": pa.array([], pa.string()), "contact_id": pa.array([], pa.string())})
    return pa.concat_tables([empty, *parts])


def _finished_shards(s3, bucket: str, tenant: str, run_id: str) -> int:
    found = 0
    prefix = run_prefix(tenant, run_id) + "shard-"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += len(page.get("Contents", []))
    return found


def _delete_run_folder(s3, bucket: str, tenant: str, run_id: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=run_prefix(tenant, run_id)):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def _exists(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _put_parquet(s3, bucket: str, key: str, table: pa.Table) -> None:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    s3.put_object(Bucket=bucket, Key=key, Body=sink.getvalue())


def _get_parquet(s3, bucket: str, key: str) -> pa.Table:
    return pq.read_table(pa.BufferReader(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
