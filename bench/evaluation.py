"""The evaluator's own figures, as the scheduled run does the work (bench/__main__.py calls these).

- ``prepare_snapshot(rows, folder)``: generated contacts (``bench.datagen``) laid out as a snapshot —
  base files of ``snapshots.ROWS_PER_FILE`` contacts and a manifest — plus the event log.
- ``full_run(folder, segments)``: the run's evaluation over that snapshot, timed: compile the plan
  (every segment of ``bench.ruleset``, five of them in one category, the "received at least 4, never
  clicked" suppression), stream the event log (``LocalEventLog``: the events sorted by contact, as
  the log keeps them, read row group by row group like ``eventlog.LogEvents``), evaluate one shard
  holding every base file (``shards.evaluate_shard`` with the contact keys, as the run does:
  ``snapshots.iter_batches`` with one file read ahead and low-cardinality strings
  dictionary-encoded, through ``keyed.evaluate``: rules, suppression, placement), then take each
  segment's ids in state order as the run's writing does. Parquet only: the files are read from local
  disk through a two-method stand-in for the S3 client, no DynamoDB.
- ``delta_write(members, churn)``: a segment of ``members`` whose membership changes by ``churn``
  (half leave, half join): last state read from S3, diff (``changes.segment_change``), only the delta
  written to MembershipsTable (``memberships_repo``, batches with retries) and the new state written
  — on in-process moto built from template.yaml, every item written counted at the wire.
- ``preview_run(folder)``: ``POST /segments/preview``'s work (a five-condition rule, count and a
  sample of whole contacts) over the same snapshot.
- ``run(quick, repeat)``: all of them, each in a fresh interpreter (own peak memory), JSON-ready.

    .venv/bin/python -m bench.evaluation --quick
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import children

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TENANT = "bench"
CATEGORY_SIZE = 5
SUPPRESSION = {"rules": None, "received_at_least_never_clicked": {"enabled": True, "min_received": 4}}


class LocalObjects:
    """What snapshot reading asks of an S3 client (``get_object`` with ``Range``, ``head_object``),
    over the files of a local folder."""

    class exceptions:  # noqa: N801 - mirrors boto3's ``client.exceptions``
        class NoSuchKey(Exception):
            pass

    def __init__(self, folder: Path):
        self.folder = folder

    def get_object(self, Bucket: str, Key: str, Range: str | None = None) -> dict[str, Any]:  # noqa: N803
        path = self.folder / Key
        if not path.exists():
            raise self.exceptions.NoSuchKey(Key)
        if Range is None:
            return {"Body": path.open("rb")}
        first, last = (int(n) for n in Range.removeprefix("bytes=").split("-"))
        with path.open("rb") as file:
            file.seek(first)
            return {"Body": io.BytesIO(file.read(last - first + 1))}

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        return {"ContentLength": (self.folder / Key).stat().st_size}


def prepare_snapshot(rows: int, folder: str) -> dict[str, Any]:
    """Generate ``rows`` contacts and their events into ``folder`` as a snapshot; its description."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from audience.evaluation import snapshots

    from bench import datagen

    target = Path(folder)
    began = time.perf_counter()
    data = datagen.generate(rows, target / "generated")
    prefix = f"tenants/{TENANT}/snapshots/bench/"
    (target / prefix).mkdir(parents=True, exist_ok=True)
    manifest = snapshots.Manifest(snapshot_id="bench", tenant_id=TENANT, created_at=data.as_of.isoformat(),
                                  watermark=data.as_of.isoformat(), fields={}, events=["generated/events.parquet"])
    source = pq.ParquetFile(data.contacts)
    writer, written, numbered = None, 0, 0
    for whole in source.iter_batches(batch_size=snapshots.BATCH_ROWS):
        # contact keys as a full build gives them: dense, in the files' (contact id) order
        keys = pa.array(range(numbered, numbered + whole.num_rows), snapshots.KEY_TYPE)
        whole = whole.append_column(pa.field(snapshots.KEY, snapshots.KEY_TYPE), keys)
        numbered += whole.num_rows
        offset = 0
        while offset < whole.num_rows:
            if writer is None or written >= snapshots.ROWS_PER_FILE:
                if writer is not None:
                    writer.close()
                    manifest.files[-1].update(rows=written, bytes=(target / manifest.files[-1]["key"]).stat().st_size)
                key = f"{prefix}contacts-{len(manifest.files):05d}.parquet"
                writer = pq.ParquetWriter(target / key, whole.schema, compression="zstd")
                manifest.files.append({"key": key, "rows": 0})
                written = 0
            batch = whole.slice(offset, snapshots.ROWS_PER_FILE - written)
            writer.write_batch(batch, row_group_size=snapshots.BATCH_ROWS)
            written += batch.num_rows
            offset += batch.num_rows
    if writer is not None:
        writer.close()
        manifest.files[-1].update(rows=written, bytes=(target / manifest.files[-1]["key"]).stat().st_size)
    for entry in manifest.files:  # what the service's `_write_base` records of each file it writes
        entry["dictionary"] = snapshots.low_cardinality_strings(pq.read_table(target / entry["key"]))
    manifest.contact_count = rows
    manifest.key_space, manifest.next_key = "bench", numbered
    manifest.key_directory = True  # as a full build's: runs over it keep their states as keys only
    data.contacts.unlink()
    (target / "manifest.json").write_text(json.dumps(asdict(manifest)))
    sort_events(folder)
    return {"rows": rows, "events": data.events_rows, "files": len(manifest.files),
            "seconds": time.perf_counter() - began, "as_of": data.as_of.isoformat(),
            "snapshot_mb": sum((target / f["key"]).stat().st_size for f in manifest.files) / 2**20}


EVENT_ROW_GROUP = 131_072


def sort_events(folder: str) -> None:
    """Sort the generated events of a prepared folder by contact (then time), as the event log keeps
    each of its objects (``eventlog``), so the run can stream them (``LocalEventLog``). Idempotent."""
    import pyarrow.parquet as pq
    from audience.evaluation import snapshots

    target = Path(folder)
    manifest = snapshots.Manifest(**json.loads((target / "manifest.json").read_text()))
    for key in manifest.events:
        path = target / key
        if b"sorted_by_contact" in (pq.ParquetFile(path).schema_arrow.metadata or {}):
            continue
        table = pq.read_table(path).sort_by([("contact_id", "ascending"), ("occurred_at", "ascending")])
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"sorted_by_contact": b"1"})
        pq.write_table(table, path.with_suffix(".sorting"), row_group_size=EVENT_ROW_GROUP, compression="zstd")
        del table
        path.with_suffix(".sorting").replace(path)


class LocalEventLog:
    """The generated events as the run reads the event log (an ``EventSource`` like ``eventlog.LogEvents``):
    objects sorted by contact, streamed row group by row group with only the wanted columns — never
    whole in memory —, the event name dictionary-encoded, and the contact ids and property keys and
    values too where the object stores them so (`reading.dictionary_columns`), as
    `reading.sorted_streams` reads them: decoding the properties as plain strings cost the bench's
    preparation a third of its CPU that the service does not pay. (Without the log's pushdown of event
    names and dates: the aggregation filters.)"""

    def __init__(self, paths: list[Path]):
        import pyarrow.parquet as pq

        self.paths = paths
        self.num_rows = sum(pq.ParquetFile(path).metadata.num_rows for path in paths)

    def fold(self, wanted, consume):
        return consume([self._stream(path, list(wanted.columns)) for path in self.paths])

    @staticmethod
    def _stream(path: Path, columns: list[str]):
        import pyarrow.parquet as pq
        from audience.eventlog.reading import dictionary_columns

        metadata = pq.read_metadata(path)
        dictionary = [*(["event"] if "event" in columns else []),
                      *dictionary_columns(metadata, [name for name in ("contact_id", "properties") if name in columns])]
        parquet = pq.ParquetFile(path, metadata=metadata, read_dictionary=dictionary or None)
        # one row group at a time: a batch across two groups' dictionaries of a map column is refused
        for group in range(metadata.num_row_groups):
            yield from parquet.iter_batches(batch_size=EVENT_ROW_GROUP, row_groups=[group], columns=columns)


def full_run(folder: str, segments: int = 50) -> dict[str, Any]:
    """Time the run's evaluation over the snapshot in ``folder`` (see module docstring)."""
    from datetime import datetime

    from audience.evaluation import engine, shards, snapshots, state
    from audience.evaluation import keyed as keyed_members
    from audience.evaluation.placement import Slot
    from audience.fields import DEFAULT_CATALOG
    from audience.rules import parse_rule
    from audience.suppression import SuppressionPolicy

    from bench import ruleset

    target = Path(folder)
    manifest = snapshots.Manifest(**json.loads((target / "manifest.json").read_text()))
    objects = LocalObjects(target)
    as_of = datetime.fromisoformat(manifest.created_at)
    raw = ruleset.raw_segments(segments)
    policy = SuppressionPolicy.from_document(SUPPRESSION, DEFAULT_CATALOG).as_rule_document()
    documents = [rule for _, rule in raw] + [policy]

    began = time.perf_counter()
    slots = [Slot(sid, category="tier" if n < CATEGORY_SIZE else None, priority=n) for n, (sid, _) in enumerate(raw)]
    needs_events, _ = engine.events_window(documents, as_of)
    plan = engine.Plan(
        as_of=as_of, catalog=DEFAULT_CATALOG, rules={sid: parse_rule(rule, DEFAULT_CATALOG) for sid, rule in raw},
        slots=slots, suppression=parse_rule(policy, DEFAULT_CATALOG),
        events=LocalEventLog([target / key for key in manifest.events]) if needs_events else None,
        columns=sorted(set().union(*(engine.contact_fields(d) for d in documents))),
    )
    prepared = time.perf_counter() - began
    everything = shards.Shard(0, tuple(f["key"] for f in manifest.files), include_delta=True)
    keyed = manifest.key_space is not None  # the service's pass reads the contact keys with the batches
    members = shards.evaluate_shard(plan, manifest, everything, objects, bucket="local", keys=keyed)
    seconds = time.perf_counter() - began
    pass_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = {sid: len(found) for sid, found in members.items()}
    # What the run's writing (``results.finish``) then does with each segment's members to write its
    # state (the diff and DynamoDB left out): over a key space with its key directory, the bitmap
    # encoded as a keys-only state keeps it (``state.key_bits``), no id taken; otherwise its ids
    # sorted with their keys (``keyed.in_state_order``, several segments at once as the writers do).
    began = time.perf_counter()
    if keyed and manifest.key_directory:
        for sid in list(members):
            state.key_bits(members.pop(sid).keys)
    elif keyed:
        for _sid, _ordered in keyed_members.in_state_order(members):
            pass
    members.clear()
    state_ids_s = time.perf_counter() - began
    rows = manifest.contact_count
    return {
        "contacts": rows,
        "segments": segments,
        "files": len(manifest.files),
        "events": plan.events.num_rows if plan.events is not None else 0,
        "columns": len(plan.columns or []),
        "keys": keyed,
        "seconds": seconds,
        "plan_and_events_s": prepared,
        "contacts_per_s": rows / seconds if seconds else None,
        "pass_peak_rss_mb": pass_peak,
        "cpu_s": _cpu_seconds(),  # user + system, every thread: what load on a shared machine inflates least
        "state_ids_s": state_ids_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "member_counts": counts,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def floor_run(folder: str, segments: int = 50) -> dict[str, Any]:
    """The floor under ``full_run``: the same reads and nothing else — every event the rules' activity
    conditions ask for streamed as ``full_run`` streams them, and the snapshot's batches of the columns
    the plan reads (with keys, dictionary-encoded) iterated and dropped."""
    from datetime import datetime

    from audience.evaluation import engine, snapshots
    from audience.fields import DEFAULT_CATALOG
    from audience.rules.vectorised import EventsWanted
    from audience.suppression import SuppressionPolicy

    from bench import ruleset

    target = Path(folder)
    manifest = snapshots.Manifest(**json.loads((target / "manifest.json").read_text()))
    as_of = datetime.fromisoformat(manifest.created_at)
    raw = ruleset.raw_segments(segments)
    policy = SuppressionPolicy.from_document(SUPPRESSION, DEFAULT_CATALOG).as_rule_document()
    documents = [rule for _, rule in raw] + [policy]
    began = time.perf_counter()
    columns = sorted(set().union(*(engine.contact_fields(d) for d in documents)))
    events = 0
    if engine.events_window(documents, as_of)[0]:  # every event column: the ruleset reads properties too
        wanted = EventsWanted(names=frozenset(), properties=True, since=None, until=as_of)
        events = LocalEventLog([target / key for key in manifest.events]).fold(
            wanted, lambda streams: sum(batch.num_rows for stream in streams for batch in stream))
    rows = sum(batch.num_rows for batch in snapshots.iter_batches(
        manifest, LocalObjects(target), DEFAULT_CATALOG, bucket="local", columns=columns, dictionary=True,
        keys=manifest.key_space is not None))
    seconds = time.perf_counter() - began
    return {"contacts": rows, "events": events, "seconds": seconds, "cpu_s": _cpu_seconds(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


PREVIEW_RULE = {"all": [  # five conditions, as a marketer would type them into the preview
    {"field": "country", "op": "in", "value": ["US", "DE", "FR"]},
    {"field": "score", "op": "gte", "value": 40},
    {"field": "subscribed", "op": "is_true"},
    {"field": "last_clicked_at", "op": "within_last_days", "value": 90},
    {"field": "tags", "op": "has_none", "value": ["do-not-call"]},
]}


def preview_run(folder: str, sample_size: int = 20) -> dict[str, Any]:
    """``POST /segments/preview``'s work over the snapshot in ``folder``: a five-condition rule,
    suppression applied, count plus a sample of whole contacts (``preview.count_and_sample``)."""
    from datetime import datetime

    from audience.evaluation import engine, snapshots
    from audience.evaluation.placement import Slot
    from audience.evaluation.preview import PREVIEW, count_and_sample
    from audience.fields import DEFAULT_CATALOG
    from audience.rules import parse_rule
    from audience.suppression import SuppressionPolicy

    target = Path(folder)
    manifest = snapshots.Manifest(**json.loads((target / "manifest.json").read_text()))
    objects = LocalObjects(target)
    policy = SuppressionPolicy.from_document(SUPPRESSION, DEFAULT_CATALOG).as_rule_document()
    began = time.perf_counter()
    plan = engine.Plan(
        as_of=datetime.fromisoformat(manifest.created_at), catalog=DEFAULT_CATALOG,
        rules={PREVIEW: parse_rule(PREVIEW_RULE, DEFAULT_CATALOG)}, slots=[Slot(PREVIEW)],
        suppression=parse_rule(policy, DEFAULT_CATALOG),
        columns=sorted(engine.contact_fields(PREVIEW_RULE) | engine.contact_fields(policy)),
    )
    count, sample = count_and_sample(plan, manifest, objects, "local", sample_size)
    seconds = time.perf_counter() - began
    return {"contacts": manifest.contact_count, "conditions": len(PREVIEW_RULE["all"]), "count": count,
            "sample": len(sample), "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def delta_write(members: int = 3_000_000, churn: float = 0.01) -> dict[str, Any]:
    """Diff + delta write for ``churn`` of a ``members``-strong segment on in-process moto."""
    import boto3
    import pyarrow as pa
    import pyarrow.compute as pc
    from moto import mock_aws

    from bench.datagen import _arange, _ids

    with mock_aws():
        from audience.settings import get_settings

        from infra.template_resources import create_resources

        region = os.environ.setdefault("AWS_REGION", "us-east-1")
        os.environ.setdefault("AWS_DEFAULT_REGION", region)
        resources = create_resources(boto3.Session(region_name=region))
        os.environ.update(resources.env())
        get_settings.cache_clear()
        from audience.evaluation import changes, state
        from audience.storage import memberships_repo
        from botocore.client import BaseClient

        s3 = boto3.client("s3", region_name=region)
        bucket = get_settings().data_bucket
        segment = "0" * 32
        leaving_count = int(members * churn) // 2
        joining_count = int(members * churn) - leaving_count
        previous = _ids(_arange(members))
        leave = pc.less(pc.random(members, initializer=7), leaving_count / members)
        leaving = previous.filter(leave)
        current = pa.concat_arrays([previous.filter(pc.invert(leave)), _ids(_arange(joining_count, members))])
        state.write_state(TENANT, segment, previous, s3, bucket, cut="2025-06-01T00:00:00.000Z")
        memberships_repo.add_many(TENANT, segment, leaving.to_pylist(), source="dynamic")  # what the deletes hit

        table = os.environ["MEMBERSHIPS_TABLE"]
        written: Counter = Counter()
        original = BaseClient._make_api_call  # every client: pynamodb's and the batch writer's own

        def counting(self, operation, kwargs):
            if operation == "BatchWriteItem":
                for request in kwargs.get("RequestItems", {}).get(table, []):
                    written["put" if "PutRequest" in request else "delete"] += 1
            elif operation in ("PutItem", "DeleteItem", "UpdateItem") and kwargs.get("TableName") == table:
                written[operation] += 1
            return original(self, operation, kwargs)

        BaseClient._make_api_call = counting
        try:
            began = time.perf_counter()
            base = state.read_state(TENANT, segment, s3, bucket)
            read_s = time.perf_counter() - began
            change = changes.segment_change(base.members, current)
            diff_s = time.perf_counter() - began - read_s
            memberships_repo.add_many(TENANT, segment, change.added.to_pylist(), source="dynamic")
            memberships_repo.remove_many(TENANT, segment, change.removed.to_pylist())
            write_s = time.perf_counter() - began - read_s - diff_s
            state.write_state(TENANT, segment, current, s3, bucket, cut="2025-06-02T00:00:00.000Z")
            total_s = time.perf_counter() - began
        finally:
            BaseClient._make_api_call = original
        get_settings.cache_clear()
    items = sum(written.values())
    return {
        "members": members,
        "churn": churn,
        "added": len(change.added),
        "removed": len(change.removed),
        "items_written": items,
        "writes": dict(written),
        "read_state_s": read_s,
        "diff_s": diff_s,
        "write_delta_s": write_s,
        "write_state_s": total_s - read_s - diff_s - write_s,
        "total_s": total_s,
        "items_per_s": items / write_s if write_s else None,
        "note": "DynamoDB is moto in-process: write_delta_s shows the item count's cost shape, not AWS latency",
    }




def _prepared(rows: int, folder: Path) -> dict[str, Any]:
    """A snapshot of ``rows`` contacts in ``folder``, generated unless a complete one is there already."""
    done = folder / "prepared.json"
    if done.exists():
        return {**json.loads(done.read_text()), "reused": True}
    folder.mkdir(parents=True, exist_ok=True)
    prepared = children.run_json(f"from bench.evaluation import prepare_snapshot\n"
                                 f"print(json.dumps(prepare_snapshot({rows}, {str(folder)!r})))")
    done.write_text(json.dumps(prepared))
    return prepared


def _median_of(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(outcomes, key=lambda t: t["seconds"])
    return {**ordered[len(ordered) // 2], "all_seconds": [t["seconds"] for t in ordered]}


def run(quick: bool, repeat: int = 1) -> dict[str, Any]:
    """Full runs (quick: 200k x 20; else 1M and 10M x 50) interleaved with their floor, the preview over
    the first size, and the 1% churn delta write (quick: 300k members; else 3M), each in a fresh
    interpreter; medians over ``repeat``. ``BENCH_RUN_DATA`` (a folder): snapshots are kept there and
    reused by later runs (10M contacts take minutes to generate); else a temporary folder each time."""
    sizes = [(200_000, 20)] if quick else [(1_000_000, 50), (10_000_000, 50)]
    kept = os.environ.get("BENCH_RUN_DATA")
    runs = []
    for rows, segments in sizes:
        with tempfile.TemporaryDirectory(prefix="audience-bench-eval-") as scratch:
            folder = Path(kept) / f"{rows}" if kept else Path(scratch)
            prepared = _prepared(rows, folder)
            timings, floors = [], []
            for _ in range(repeat):
                floors.append(children.run_json(f"from bench.evaluation import floor_run\n"
                                                f"print(json.dumps(floor_run({str(folder)!r}, {segments})))"))
                timings.append(children.run_json(f"from bench.evaluation import full_run\n"
                                                 f"print(json.dumps(full_run({str(folder)!r}, {segments})))"))
            median, floor = _median_of(timings), _median_of(floors)
            with_ids = sorted(t["seconds"] + t.get("state_ids_s", 0.0) for t in timings)[len(timings) // 2]
            runs.append({**median, "snapshot": prepared, "floor": floor,
                         "vs_floor": median["seconds"] / floor["seconds"],
                         "with_state_ids_s": with_ids, "with_state_ids_vs_floor": with_ids / floor["seconds"]})
            if rows == sizes[0][0]:
                preview = _median_of([children.run_json(f"from bench.evaluation import preview_run\n"
                                                        f"print(json.dumps(preview_run({str(folder)!r})))")
                                      for _ in range(repeat)])
    if len(runs) > 1:
        runs[-1]["growth"] = runs[-1]["seconds"] / runs[0]["seconds"]
        runs[-1]["growth_with_state_ids"] = runs[-1]["with_state_ids_s"] / runs[0]["with_state_ids_s"]
    members = 300_000 if quick else 3_000_000
    delta = children.run_json(f"from bench.evaluation import delta_write\nprint(json.dumps(delta_write({members})))")
    return {"full_runs": runs, "preview": preview, "delta_write": delta}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2, default=str))
