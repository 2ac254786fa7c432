"""A run split by snapshot file: each shard evaluates some base files (one of them also the delta)
with the same plan, independently; the run's answer is the concatenation of the shards' ids.

Why this is exact: every live contact is in exactly one unit (a base file, minus contacts the
delta replaces, or the delta), activity aggregates and references are per contact, and placement
decides each contact on its own — so no shard needs another shard's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.parquet as pq

from audience.evaluation import engine, keyed, snapshots
from audience.eventlog import LogEvents
from audience.ranged import RangedObject
from audience.settings import get_settings


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
                   evaluator=None, keys: bool = False) -> dict[str, pa.Array] | dict[str, keyed.KeyedMembers]:
    """The shard's members; without a shared ``evaluator`` the shard aggregates activity of its own
    contacts only (`shard_events`). ``keys``: with their contact keys (``keyed.KeyedMembers``) when the
    snapshot has them."""
    batches = snapshots.iter_batches(
        manifest, s3, plan.catalog, bucket=bucket, files=shard.files, include_delta=shard.include_delta,
        columns=plan.columns, dictionary=True, keys=keys,
    )
    if evaluator is None:
        evaluator = replace(plan, events=shard_events(plan, manifest, shard, s3, bucket)).evaluator()
    if keys:
        return keyed.evaluate(plan, batches, evaluator, key_space_size=manifest.next_key)
    return engine.evaluate(plan, batches, evaluator)


def shard_events(plan: engine.Plan, manifest: snapshots.Manifest, shard: Shard, s3, bucket: str | None):
    """The plan's event source narrowed to the shard's contacts: the id ranges of its base files (from
    their Parquet statistics: base files are sorted by contact) plus, with the delta, the delta's ids.
    The event log's parts are sorted by contact and cut between contacts, so a shard reads only the
    parts and row groups overlapping its files' ranges."""
    events = plan.events
    if not isinstance(events, LogEvents):
        return events
    bucket = bucket or get_settings().data_bucket
    extra = None
    if shard.include_delta and manifest.delta:
        extra = snapshots.read_columns(s3, bucket, manifest.delta, ["contact_id"]).column("contact_id").combine_chunks()
    if not shard.files:
        return events.for_contacts(None, None, contacts=extra if extra is not None else pa.array([], pa.string()))
    entries = [entry for entry in manifest.files if entry["key"] in shard.files]
    bounds = [_id_range(s3, bucket, entry) for entry in entries]
    if any(b is None for b in bounds):
        return events
    # only the files' own ranges: files dealt round-robin leave other shards' ranges between them
    return events.for_contacts(min(b[0] for b in bounds), max(b[1] for b in bounds), also=extra,
                               ranges=tuple(sorted(bounds)))


def _id_range(s3, bucket: str, entry: dict) -> tuple[str, str] | None:
    """A base file's smallest and largest contact id, from its footer (None without statistics)."""
    meta = pq.ParquetFile(RangedObject(s3, bucket, entry["key"], entry.get("bytes"))).metadata
    column = meta.schema.to_arrow_schema().get_field_index("contact_id")
    lows, highs = [], []
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(column).statistics
        if stats is None or not stats.has_min_max:
            return None
        lows.append(stats.min)
        highs.append(stats.max)
    return (min(lows), max(highs)) if lows else None


def merge(results: list[dict[str, pa.Array]] | list[dict[str, keyed.KeyedMembers]]):
    """The shards' member ids (or keyed members) per segment, concatenated (shards hold disjoint
    contacts)."""
    segments = {sid for result in results for sid in result}
    if any(isinstance(members, keyed.KeyedMembers) for result in results for members in result.values()):
        if all(isinstance(members, keyed.KeyedMembers) for result in results for members in result.values()):
            return keyed.concat(results)
        results = [{sid: m.ids if isinstance(m, keyed.KeyedMembers) else m for sid, m in r.items()} for r in results]
    merged: dict[str, pa.Array] = {}
    for sid in segments:
        parts = [r[sid] for r in results if sid in r and len(r[sid])]
        merged[sid] = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
    return merged


def evaluate_sharded(plan: engine.Plan, manifest: snapshots.Manifest, s3, count: int, *,
                     bucket: str | None = None, keys: bool = False):
    """Every shard in this process, one after another, as the deployed fan-out runs them in separate
    Lambdas (``evaluate_shard``): each reads and aggregates only its own contacts' events. Without
    the event log (no activity, or events in memory) the shards share one compiled evaluator."""
    evaluator = None if isinstance(plan.events, LogEvents) else plan.evaluator()
    return merge([evaluate_shard(plan, manifest, shard, s3, bucket=bucket, evaluator=evaluator, keys=keys)
                  for shard in split(manifest, count)])
