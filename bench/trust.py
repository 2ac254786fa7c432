"""What-if (``POST /segments/{id}/preview-change``) and holdout buckets at 1,000,000 contacts.

- ``whatif_run(folder)``: the route's work after its DynamoDB reads — the plan of a five-condition
  rule with suppression, the pass over every base file of the snapshot (``preview_change.compare``:
  ``shards.evaluate_sharded`` then the run's sorted diff) against the segment's kept state (a Parquet
  state of another rule's members, read back as the route reads it). Timed beside
  ``bench.evaluation.preview_run`` (``POST /segments/preview``, the same pass counting one rule): the
  peer in this service, measured in the same run.
- ``sample_hash(rows)``: the vectorised sample node's hash of ``rows`` ids (``rules.sample.bucket_codes``)
  beside Arrow reading the same ids (``pc.utf8_length``, the floor of touching each id once).

    .venv/bin/python -m bench.trust [--quick]
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.evaluation import PREVIEW_RULE, SUPPRESSION, TENANT, LocalObjects, _child

SEGMENT = "whatif"
OLD_RULE = {"all": [{"field": "score", "op": "gte", "value": 50}, {"field": "subscribed", "op": "is_true"}]}


def _plan(manifest, rule: dict, suppression: dict):
    from datetime import datetime

    from audience.evaluation import engine
    from audience.evaluation.placement import Slot
    from audience.fields import DEFAULT_CATALOG
    from audience.rules import parse_rule

    return engine.Plan(
        as_of=datetime.fromisoformat(manifest.created_at), catalog=DEFAULT_CATALOG,
        rules={SEGMENT: parse_rule(rule, DEFAULT_CATALOG)}, slots=[Slot(SEGMENT)],
        suppression=parse_rule(suppression, DEFAULT_CATALOG),
        columns=sorted(engine.contact_fields(rule) | engine.contact_fields(suppression)),
    )


def keep_state(folder: str) -> dict[str, Any]:
    """The segment's kept state: the members of ``OLD_RULE``, written where ``state`` reads it."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from audience.evaluation import changes, shards, snapshots, state
    from audience.fields import DEFAULT_CATALOG
    from audience.suppression import SuppressionPolicy

    target = Path(folder)
    manifest = snapshots.Manifest(**json.loads((target / "manifest.json").read_text()))
    policy = SuppressionPolicy.from_document(SUPPRESSION, DEFAULT_CATALOG).as_rule_document()
    members = shards.evaluate_sharded(_plan(manifest, OLD_RULE, policy), manifest, LocalObjects(target), 1,
                                      bucket="local")[SEGMENT]
    path = target / state.state_key(TENANT, SEGMENT)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"contact_id": changes.in_order(members)}), path, compression="zstd")
    return {"members": len(members)}


def whatif_run(folder: str) -> dict[str, Any]:
    from audience.evaluation import snapshots, state
    from audience.fields import DEFAULT_CATALOG
    from audience.suppression import SuppressionPolicy
    from audience.trust.preview_change import compare

    target = Path(folder)
    manifest = snapshots.Manifest(**json.loads((target / "manifest.json").read_text()))
    objects = LocalObjects(target)
    policy = SuppressionPolicy.from_document(SUPPRESSION, DEFAULT_CATALOG).as_rule_document()
    began = time.perf_counter()
    plan = _plan(manifest, PREVIEW_RULE, policy)
    current = state.read_state(TENANT, SEGMENT, objects, "local").members
    answer = compare(plan, manifest, SEGMENT, current, s3=objects, bucket="local")
    seconds = time.perf_counter() - began
    return {"contacts": manifest.contact_count, "seconds": seconds,
            **{k: answer[k] for k in ("count_now", "count_after", "entering", "leaving")},
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def sample_hash(rows: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc
    from audience.rules.sample import bucket_codes

    ids = pa.array([f"c{n:09d}" for n in range(rows)], pa.string())
    began = time.perf_counter()
    pc.sum(pc.utf8_length(ids))
    floor = time.perf_counter() - began
    began = time.perf_counter()
    bucket_codes("holdout", ids.to_pylist())
    hashed = time.perf_counter() - began
    return {"ids": rows, "hash_s": hashed, "arrow_read_s": floor, "per_id_us": hashed / rows * 1e6}


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    runs = sorted(runs, key=lambda r: r["seconds"])
    return {**runs[len(runs) // 2], "all_seconds": [r["seconds"] for r in runs]}


def run(quick: bool, repeat: int = 3) -> dict[str, Any]:
    rows = 200_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="audience-bench-trust-") as folder:
        _child(f"from bench.evaluation import prepare_snapshot\n"
               f"print(json.dumps(prepare_snapshot({rows}, {folder!r})))")
        kept = _child(f"from bench.trust import keep_state\nprint(json.dumps(keep_state({folder!r})))")
        whatif, preview = [], []
        for _ in range(repeat):  # interleaved, so both see the same load on a shared machine
            whatif.append(_child(f"from bench.trust import whatif_run\nprint(json.dumps(whatif_run({folder!r})))"))
            preview.append(_child(f"from bench.evaluation import preview_run\n"
                                  f"print(json.dumps(preview_run({folder!r})))"))
    hashing = _child(f"from bench.trust import sample_hash\nprint(json.dumps(sample_hash({rows})))")
    what, peer = _median(whatif), _median(preview)
    return {"contacts": rows, "state_members": kept["members"], "whatif": what, "preview": peer,
            "whatif_over_preview": what["seconds"] / peer["seconds"], "sample_hash": hashing}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2, default=str))
