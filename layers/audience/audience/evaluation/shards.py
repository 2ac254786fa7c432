"""A run split by snapshot file: each shard evaluates some base files (one of them also the delta)
with the same plan, independently; the run's answer is the concatenation of the shards' ids.

Why this is exact: every live contact is in exactly one unit (a base file, minus contacts the
delta replaces, or the delta), activity aggregates and references are per contact, and placement
decides each contact on its own — so no shard needs another shard's rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from audience.evaluation import engine, snapshots


@dataclass(frozen=True)
class Shard:
    index: int
    files: tuple[str, ...]
    include_delta: bool


def split(manifest: snapshots.Manifest, count: int) -> list[Shard]:
    """``count`` shards (fewer when there are fewer units) dealing the base files round-robin; the
    delta goes with the last shard."""
    keys = [f["key"] for f in manifest.files]
    count = max(1, min(count, len(keys) + (1 if manifest.delta else 0)))
    groups: list[list[str]] = [[] for _ in range(count)]
    for position, key in enumerate(keys):
        groups[position % count].append(key)
    return [Shard(i, tuple(group), include_delta=i == count - 1) for i, group in enumerate(groups)]


def evaluate_shard(plan: engine.Plan, manifest: snapshots.Manifest, shard: Shard, s3, *, bucket: str | None = None,
                   evaluator=None) -> dict[str, pa.Array]:
    batches = snapshots.iter_batches(
        manifest, s3, plan.catalog, bucket=bucket, files=shard.files, include_delta=shard.include_delta,
        columns=plan.columns, dictionary=True,
    )
    return engine.evaluate(plan, batches, evaluator)


def merge(results: list[dict[str, pa.Array]]) -> dict[str, pa.Array]:
    """The shards' member ids per segment, concatenated (shards hold disjoint contacts)."""
    merged: dict[str, pa.Array] = {}
    for sid in {sid for result in results for sid in result}:
        parts = [r[sid] for r in results if sid in r and len(r[sid])]
        merged[sid] = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
    return merged


def evaluate_sharded(plan: engine.Plan, manifest: snapshots.Manifest, s3, count: int, *,
                     bucket: str | None = None) -> dict[str, pa.Array]:
    """Every shard in this process, one after another, sharing one compiled evaluator (its activity
    aggregates are computed once); the deployed fan-out runs ``evaluate_shard`` in separate Lambdas."""
    evaluator = plan.evaluator()
    return merge([evaluate_shard(plan, manifest, shard, s3, bucket=bucket, evaluator=evaluator)
                  for shard in split(manifest, count)])
