"""`python -m bench [--quick] [--only NAME ...] [--repeat N]` (`make bench ARGS=...`).

Measures the figures of docs/benchmarks.md side by side in one run and prints a table:

- evaluation: the service's keyed pass + state ids vs the floor (the same reads) vs DuckDB (counts,
  ids) and Polars (ids) on the same Parquet, generated with contact keys and events sorted by contact,
  at 1M and 10M contacts x 20 and 50 segments (quick: 200k), plus the allocator check;
- engine: bench/engine.py, the engine alone on in-memory batches with per-segment costs;
- diff: membership diff for 1% churn on a 3M-member segment (quick: 300k);
- run: bench/evaluation.py, the scheduled run's own work over a snapshot laid out as the service
  writes it (plan, event log, streamed base files, suppression, a category), the preview of a
  five-condition rule, and the 1% churn diff + delta write to MembershipsTable on moto;
- imports / exports: the importer and exporter benchmarks on moto (quick: smaller sizes; exports:
  200k and 1M members from a snapshot, beside a plain pyarrow read of the same columns);
- coldstart: import time, pyarrow or not, and deployed size per function;
- stream: stream-batch throughput, once a contact_stream implementation exists;
- trust: bench/trust.py, preview-change's work at 1M beside the preview pass, and the sample node's hash;
- events: bench/events.py, the event log: a run's 20 activity rules over 1M contacts x 50M events vs
  the floor vs DuckDB, 100 API batches ingested on moto and the objects left after compaction;
- demo: bench/demo.py, `make run ARGS=--demo` from the command to ready (every segment evaluated),
  per step (quick: 2,000 contacts).

A full run (no --quick) stores its results in docs/benchmarks.json and rewrites docs/benchmarks.md;
with --only, the other sections keep their previous results. Quick runs print only (add --write to
store them anyway). Generated data goes to a temporary folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import children, report

SECTIONS = ("evaluation", "engine", "diff", "run", "imports", "exports", "coldstart", "stream", "trust", "events",
            "demo")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "docs" / "benchmarks.json"


def _log(message: str) -> None:
    print(message, flush=True)




def run_evaluation(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    from bench import datagen, side_by_side

    sizes = [200_000] if quick else [1_000_000, 10_000_000]
    counts = [20, 50]
    results, generated = [], []
    for rows in sizes:
        started = time.perf_counter()
        data = datagen.generate(rows, workdir / f"data-{rows}", keyed=True)  # as a snapshot holds them
        seconds = time.perf_counter() - started
        size_mb = data.contacts.stat().st_size / 2**20
        generated.append({"rows": rows, "events": data.events_rows, "seconds": seconds, "contacts_mb": size_mb,
                          "events_mb": data.events.stat().st_size / 2**20})
        _log(f"  generated {rows:,} contacts ({size_mb:.0f} MB) and {data.events_rows:,} events in {seconds:.1f}s")
        for count in counts:
            results.append(side_by_side.compare(str(data.contacts), str(data.events), rows, count, repeat, log=_log))
        if rows == sizes[0]:
            allocator = side_by_side.allocator_check(str(data.contacts), str(data.events), rows, counts[-1],
                                                     max(1, min(repeat, 3)), log=_log)
        shutil.rmtree(data.folder, ignore_errors=True)
    return {"runs": results, "generated": generated, "allocator": allocator,
            "batch_size": side_by_side.BATCH_SIZE}


def run_diff(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    members = 300_000 if quick else 3_000_000
    evaluation_bench = PROJECT_ROOT / "bench" / "evaluation.py"
    outcomes = [children.run_json(f"from bench.membership_diff import membership_diff\n"
                                  f"print(json.dumps(membership_diff({members})))", 600) for _ in range(repeat)]
    keys = ("read_previous_s", "string_diff_s", "keyed_diff_s", "write_next_s", "bitmap_diff_s")
    found = dict(outcomes[0])
    for key in keys:
        values = sorted(o[key] for o in outcomes)
        found[key] = values[len(values) // 2]
        found[key + "_all"] = [round(v, 4) for v in values]
    found["delta_write"] = ("measured in the section on the scheduled run (bench/evaluation.py)"
                            if evaluation_bench.exists()
                            else "pending: the evaluator's delta write to DynamoDB has no benchmark yet")
    return found


def run_scheduled(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    """bench/evaluation.py: full runs (1M and 10M x 50; quick 200k x 20), preview, delta write."""
    from bench import evaluation

    return evaluation.run(quick, repeat)


def run_trust(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    """bench/trust.py: preview-change's work at 1M (quick 200k) beside the preview pass; sample hash."""
    from bench import trust

    return trust.run(quick, max(repeat, 3))


def run_imports(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    # the 5 MB CSV of issue 14 (~52k rows), upload to succeeded on the local stack, beside moto's own rates
    target = 256 * 1024 if quick else int(os.environ.get("BENCH_IMPORT_BYTES", str(5 * 2**20 - 4096)))
    measured = children.run_json(f"from bench.imports import import_throughput\n"
                                 f"print(json.dumps(import_throughput({target})))", 3600)
    # issue 14: a 1,000,000-row Parquet file, each invocation in its own process (bench/parquet_import.py);
    # BENCH_PARQUET_CHUNKS caps the chunks written (the job then does not end; the whole is estimated)
    rows = 20_000 if quick else int(os.environ.get("BENCH_PARQUET_ROWS", "1000000"))
    cap = os.environ.get("BENCH_PARQUET_CHUNKS")
    parquet = children.run_json(f"from bench.parquet_import import parquet_import\n"
                                f"print(json.dumps(parquet_import({rows}, max_chunks={int(cap) if cap else None})))",
                                4 * 3600)
    return {"target_bytes": target, **measured, "parquet": parquet, "repeat": 1}  # one run, whatever --repeat says


def run_exports(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    """bench/exports.py: CSV exports of a tenant laid out as the service leaves it (snapshot, run state,
    changes since). Each case in a fresh interpreter (own moto, own peak memory)."""
    cases = ([(20_000, "changed", 0.001), (3_000, "all", 0.01)] if quick else
             [(200_000, "changed", 0.001), (200_000, "changed", 0.01), (1_000_000, "changed", 0.001),
              (20_000, "all", 0.01)])
    results = []
    for members, table, share in cases:
        results += children.run_json(f"from bench.exports import export_benchmark\n"
                                     f"print(json.dumps(export_benchmark({members}, ('csv',), table={table!r}, "
                                     f"with_static={table == 'all'}, changed_share={share})))", 3600)
    return {"members": max(c[0] for c in cases), "results": results, "repeat": 1}  # one run per case


def run_coldstart(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    from bench import coldstart

    runs = 3 if quick else 7
    return {**coldstart.coldstart(runs=runs), "repeat": runs}  # fresh interpreters per function


def run_engine(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    """bench/engine.py: the engine alone on in-memory batches (1M x 20; quick 100k), per-segment costs."""
    if not (PROJECT_ROOT / "bench" / "engine.py").exists():
        return {"status": "pending: bench/engine.py has not landed"}
    result = children.run_json(
        f"from bench.engine import run\nprint(json.dumps(run({quick}, repeat={repeat}), default=str))", 1800)
    return {"status": "measured", "result": result}


def run_stream(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    if not (PROJECT_ROOT / "bench" / "stream.py").exists():
        return {"status": "pending: no contact_stream benchmark exists yet (bench/stream.py with "
                          "stream_throughput(segments=100, quick))"}
    results = children.run_json(f"from bench.stream import stream_throughput\n"
                                f"print(json.dumps(stream_throughput(segments=100, quick={quick})))", 1800)
    return {"status": "measured", "results": results, "repeat": 1}  # one run, whatever --repeat says


def run_events(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    from bench import events

    return {"result": events.run(quick, workdir), "repeat": 1}  # one run, whatever --repeat says


def run_demo(quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    from bench import demo

    result = demo.demo_ready(2_000 if quick else None)
    _log("  " + demo.describe(result))
    return {"result": result, "repeat": 1}  # one start, whatever --repeat says


def _measure(name: str, quick: bool, repeat: int, workdir: Path) -> dict[str, Any]:
    _log(f"== {name}")
    started = time.perf_counter()
    try:
        section = RUNNERS[name](quick, repeat, workdir)
    except Exception as exc:  # one failing figure must not lose the others
        section = {"error": f"{type(exc).__name__}: {exc}"}
        _log(f"  {name} FAILED: {section['error']}")
    section["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    section["quick"] = quick
    section.setdefault("repeat", repeat)
    section["section_seconds"] = time.perf_counter() - started
    _log(f"== {name} done in {section['section_seconds']:.0f}s")
    return section


RUNNERS = {"evaluation": run_evaluation, "engine": run_engine, "diff": run_diff, "run": run_scheduled,
           "imports": run_imports, "exports": run_exports, "coldstart": run_coldstart, "stream": run_stream,
           "trust": run_trust, "events": run_events, "demo": run_demo}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute version at small sizes (prints only)")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections (repeatable)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per figure; medians are reported")
    parser.add_argument("--write", action="store_true", help="store a quick run's results in docs too")
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    # The stream benchmark needs minutes even at its quick size (moto-bound): quick runs skip it unless named.
    sections = args.only or [name for name in SECTIONS if not (args.quick and name == "stream")]
    for name, value in children.runtime_settings().items():  # in-process sections and the report's record
        os.environ.setdefault(name, value)

    results: dict[str, Any] = {}
    began = time.perf_counter()
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="audience-bench-"))
    try:
        # Imports and exports are each bound by one core of in-process moto: on a full run they share
        # the machine's two cores at once (noted in the report) so the whole run fits in 30 minutes.
        together = [] if args.quick else [name for name in ("imports", "exports") if name in sections]
        if len(together) < 2:
            together = []
        for name in sections:  # everything else alone, first: nothing else of ours runs meanwhile
            if name not in together:
                results[name] = _measure(name, args.quick, repeat, workdir)
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending = {name: pool.submit(_measure, name, args.quick, repeat, workdir) for name in together}
            for name, future in pending.items():
                results[name] = future.result()
                results[name]["concurrent_with"] = [other for other in together if other != name]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    meta = report.machine()
    meta.update({"load_before": load_before, "load_after": os.getloadavg(),
                 "total_seconds": time.perf_counter() - began, "quick": args.quick, "repeat": repeat,
                 "command": "make bench" + (f" ARGS='{' '.join(argv or sys.argv[1:])}'" if (argv or sys.argv[1:])
                                            else "")})
    for section in results.values():
        section["machine"] = meta
    print(report.table(results))
    if not args.quick or args.write:
        stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        stored.update(results)
        RESULTS.write_text(json.dumps(stored, indent=1, default=str) + "\n")
        report.write(stored)
        if stored.get("events", {}).get("result"):  # its own section, outside the generated block
            from bench import events

            events.write({**stored["events"]["result"], "measured_at": stored["events"]["measured_at"]},
                         report.DOC)
        _log(f"wrote {RESULTS.relative_to(PROJECT_ROOT)} and docs/benchmarks.md")
    _log(f"total {time.perf_counter() - began:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
