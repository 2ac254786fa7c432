"""One-pass evaluation side by side: our engine vs the floor (merely reading the needed columns)
vs DuckDB and Polars running the same rules, on the same Parquet files.

The fair peers produce what the engine produces, every segment's member ids: ``duckdb_ids`` is one
DuckDB query listing each segment's ids (rules compiled by `bench/sql.py`) fetched as Arrow, and
``polars`` one lazy Polars query (streaming engine; rules compiled by `bench/polars_rules.py`)
doing the same. ``duckdb`` (one query *counting* every segment) is kept as the lower bound of
DuckDB's work. Unit tests hold both compilers to the engine's exact members.

The engine does what the service's scheduled run does with a snapshot's contacts (what
`bench/evaluation.py` times over a snapshot's layout): the contacts' batches read with their integer
contact keys (the generated files carry them, ``datagen.generate(keyed=True)``; the peers read the
same files and ignore the key), the event log streamed sorted by contact (``LocalEventLog``), the
keyed pass `audience.evaluation.keyed.evaluate` (members as key sets; every segment an uncategorised
slot, no suppression, so its members are the rules' matches the peers list), then every segment's
state as the run's writing makes it over a snapshot whose key space has its key directory: the
members' bitmap encoded (``state.key_bits``: a keys-only state; no member's id is taken — the run
takes ids only for the members that changed, whose diff is not timed here), several segments at
once as `results.finish`'s segment writers make them (``SEGMENT_WRITERS``). The stage keeps its
name "state ids" (``state_ids_s``) for the stored results' sake.
It runs on the threads the deployed evaluator uses (`EVALUATION_THREADS` unset: the CPUs, at most
4), and once more with `EVALUATION_THREADS=1` (``engine_1t``) to show what the threads add.

Each measurement runs in a fresh interpreter (`python -m bench.side_by_side '<json>'`), so its peak
resident memory (`ru_maxrss`) is its own and no run warms another's caches in-process; the runs of
one size are interleaved (floor, engine, DuckDB, floor, ...) so drift in the machine's load hits
all three alike. The timed region is the work only: streaming the event log and the contacts'
record batches, evaluating every segment and taking its ids (engine), the same reads and nothing
else (floor), one DuckDB query counting every segment over both files (DuckDB), or listing every
segment's ids (DuckDB with ids), or one Polars query listing them (Polars).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import children

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BATCH_SIZE = 131_072
SEGMENT_WRITERS = 3  # `results.SEGMENT_WRITERS`: the run writes this many segments' results at once
KINDS = ("floor", "engine", "engine_1t", "duckdb", "duckdb_ids", "polars")
PEERS_WITH_IDS = ("duckdb_ids", "polars")


def run_once(kind: str, contacts: str, events: str, segments: int, *, pool: str = "jemalloc",
             batch_size: int = BATCH_SIZE, timeout: float = 1800) -> dict[str, Any]:
    """One measurement in a child interpreter; returns seconds, peak_rss_mb and (but for the floor) counts."""
    env = children.environment(ARROW_DEFAULT_MEMORY_POOL=pool)
    env.pop("EVALUATION_THREADS", None)  # the engine as deployed: one thread per CPU (at most 4)
    if kind == "engine_1t":
        env["EVALUATION_THREADS"] = "1"
    spec = {"kind": kind, "contacts": contacts, "events": events, "segments": segments, "batch_size": batch_size}
    done = subprocess.run([sys.executable, "-m", "bench.side_by_side", json.dumps(spec)], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} run failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _work(spec: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.parquet as pq  # noqa: F401 - imported before the clock starts
    from audience.evaluation import (  # noqa: F401 - imported before the clock starts
        engine,
        keyed,
        snapshots,
    )
    from audience.fields import DEFAULT_CATALOG
    from audience.rules.vectorised import EventsWanted, evaluation_threads

    from bench import datagen, evaluation, ruleset  # noqa: F401 - evaluation: LocalEventLog, before the clock

    count = spec["segments"]
    columns = ruleset.needed_fields(count)
    rules = ruleset.segments(count)
    result: dict[str, Any] = {}
    # The service reads its dictionary-encoded columns from the snapshot's manifest: the probe that
    # stands in for it here stays outside the floor's and the engine's clocks.
    dictionary = dictionary_columns(spec["contacts"], columns) if spec["kind"] in ("floor", "engine") else None
    started = time.perf_counter()
    if spec["kind"] in ("duckdb", "duckdb_ids"):
        from bench import sql

        compile_query = sql.compile_counts if spec["kind"] == "duckdb" else sql.compile_member_lists
        query, ids = compile_query(
            rules, contacts_relation=f"read_parquet({sql.quote(spec['contacts'])})",
            events_relation=f"read_parquet({sql.quote(spec['events'])})", catalog=DEFAULT_CATALOG,
            as_of=datagen.AS_OF)
        con = sql.connect()
        started = time.perf_counter()
        if spec["kind"] == "duckdb":
            result["counts"] = dict(zip(ids, con.execute(query).fetchone(), strict=True))
        else:
            members = sql.member_lists_to_arrow(con.sql(query).to_arrow_table())
            result["counts"] = {sid: len(members[sid]) for sid in ids}
        result["threads"] = con.execute("SELECT current_setting('threads')").fetchone()[0]
    elif spec["kind"] == "polars":
        import polars as pl

        from bench import polars_rules

        started = time.perf_counter()
        members = polars_rules.members(rules, pl.scan_parquet(spec["contacts"]).select(columns),
                                       pl.scan_parquet(spec["events"]), catalog=DEFAULT_CATALOG,
                                       as_of=datagen.AS_OF)
        result["counts"] = {sid: len(ids) for sid, ids in members.items()}
        result["threads"] = pl.thread_pool_size()
    elif spec["kind"] == "floor":  # the engine's reads, nothing else: every event column, every batch
        events, batches = _reads(spec["contacts"], spec["events"], columns, spec["batch_size"], result,
                                 dictionary)
        wanted = EventsWanted(names=frozenset(), properties=True, since=None, until=datagen.AS_OF)
        result["events_rows"] = events.fold(
            wanted, lambda streams: sum(batch.num_rows for stream in streams for batch in stream))
        result["rows"] = sum(batch.num_rows for batch in batches)
    else:
        result["stages"] = stages = {}
        result["counts"] = {sid: len(ids) for sid, ids in service_pass(
            spec["contacts"], spec["events"], count, batch_size=spec["batch_size"], stages=stages, noted=result,
            dictionary=dictionary)}
        result["threads"] = evaluation_threads()
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def _reads(contacts: str, events: str, columns: list[str], batch_size: int, noted: dict[str, Any],
           dictionary: list[str] | None = None):
    """The event log and the contacts' batches as the service's pass reads them: the events streamed
    by contact (``LocalEventLog``, as the run reads the event log), the batches with their contact
    keys when the files carry them (`datagen.generate(keyed=True)`) and low-cardinality strings
    dictionary-encoded (``dictionary``, else probed from the file's first row group)."""
    import pyarrow.parquet as pq
    from audience.evaluation import snapshots

    from bench.evaluation import LocalEventLog

    probe = pq.ParquetFile(contacts)
    keyed = snapshots.KEY in probe.schema_arrow.names
    dictionary = dictionary_columns(contacts, columns) if dictionary is None else dictionary
    batches = pq.ParquetFile(contacts, pre_buffer=False, read_dictionary=dictionary).iter_batches(
        batch_size=batch_size, columns=[*columns, snapshots.KEY] if keyed else columns)
    # the generated keys are dense from 0 in the file's order, as a full build numbers them: the key
    # space's size (the manifest's ``next_key`` the service passes to the pass) is the file's rows
    noted.update(dictionary_columns=dictionary, keyed=keyed, key_space_size=probe.metadata.num_rows if keyed else 0)
    return LocalEventLog([Path(events)]), batches


def service_pass(contacts: str, events: str, segments: int, *, batch_size: int = BATCH_SIZE,
                 stages: dict[str, float] | None = None, noted: dict[str, Any] | None = None,
                 dictionary: list[str] | None = None):
    """The service's pass over the generated files and what its writing takes from it: each segment
    of ``bench.ruleset`` (an uncategorised slot, no suppression: its members are the rules' matches)
    with its members (``keyed.KeyedMembers``; ids over files without keys), segment by segment.

    The pass is `keyed.evaluate` (members as key sets over the contact keys, over the key space the
    files' rows number, as a shard's pass is given its manifest's ``next_key``; over files without keys
    it is the id pass, `engine.evaluate`'s, and each segment's ids are its result), then each
    segment's state is made as `results.finish` makes it over a key space with its key directory:
    the bitmap encoded for a keys-only state (``state.key_bits``; the diff and the writes left out),
    ``SEGMENT_WRITERS`` segments at once as its writers do — what `bench/evaluation.py` times over a
    snapshot's layout.

    ``stages`` receives where the time goes: wall seconds of the run-wide preparation (streaming the
    event log: the activity index and every activity condition's answer per contact; the pass runs
    it once its first batch is read, while the caller reads the next few batches — process CPU in
    that window counts both), of the caller's thread waiting on Parquet for the contacts' batches,
    every batch's masks as wall and calling-thread CPU seconds summed over the evaluation threads
    (Arrow's own pool not counted there), the key sets built once the last batch is placed, the
    pass's wall and process CPU seconds besides the preparation's (their ratio: cores busy), and the
    state's (``state_ids_s``: the bitmaps encoded) wall and process CPU seconds."""
    from audience.evaluation import engine, keyed, state
    from audience.evaluation.placement import Slot
    from audience.fields import DEFAULT_CATALOG

    from bench import datagen, ruleset

    stages = {} if stages is None else stages
    columns, rules = ruleset.needed_fields(segments), ruleset.segments(segments)
    noted = {} if noted is None else noted
    log, batches = _reads(contacts, events, columns, batch_size, noted, dictionary)
    plan = engine.Plan(as_of=datagen.AS_OF, catalog=DEFAULT_CATALOG, rules=dict(rules),
                       slots=[Slot(sid) for sid, _ in rules], events=log, columns=columns)
    evaluator = plan.evaluator()
    stages["prepare_s"] = stages["prepare_cpu_s"] = 0.0
    stages["read_batches_s"] = stages["masks_s"] = stages["masks_cpu_s"] = 0.0
    real_prepare = evaluator._prepare_on

    def prepare(*args, **kwargs):  # as the pass runs it (`SegmentEvaluator.stream`): beside the first reads
        began, cpu = time.perf_counter(), _process_cpu()
        try:
            return real_prepare(*args, **kwargs)
        finally:
            stages["prepare_s"] += time.perf_counter() - began
            stages["prepare_cpu_s"] += _process_cpu() - cpu

    evaluator._prepare_on = prepare
    real_masks = evaluator.masks

    def masks(batch):
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return real_masks(batch)
        finally:  # float += under the GIL: no update lost
            stages["masks_cpu_s"] += time.thread_time() - cpu
            stages["masks_s"] += time.perf_counter() - wall

    evaluator.masks = masks

    def timed(iterator):
        iterator = iter(iterator)
        while True:
            began = time.perf_counter()
            batch = next(iterator, None)
            stages["read_batches_s"] += time.perf_counter() - began
            if batch is None:
                return
            yield batch

    real_placed = engine.placed_batches
    placed_at: list[float] = []

    def placed(*args, **kwargs):  # when the last batch is placed, the key sets are built
        yield from real_placed(*args, **kwargs)
        placed_at.append(time.perf_counter())

    engine.placed_batches = placed
    began, cpu = time.perf_counter(), _process_cpu()
    try:
        # the key space's size, as the service's shard passes the manifest's ``next_key`` (`shards.evaluate_shard`)
        members = keyed.evaluate(plan, timed(batches), evaluator, key_space_size=noted["key_space_size"])
    finally:
        engine.placed_batches = real_placed
    ended = time.perf_counter()
    # the pass after the preparation (which the pass runs once its first batch is read)
    stages["pass_s"] = ended - began - stages["prepare_s"]
    stages["pass_cpu_s"] = _process_cpu() - cpu - stages["prepare_cpu_s"]
    stages["key_sets_s"] = ended - placed_at[-1] if placed_at else 0.0
    began, cpu = time.perf_counter(), _process_cpu()
    if all(isinstance(found, keyed.KeyedMembers) for found in members.values()):
        # as `results._apply` keeps a keys-only state: the bitmap compressed, no id taken — on
        # `results.finish`'s segment writers, several segments at once (zstd releases the GIL)
        with ThreadPoolExecutor(max_workers=SEGMENT_WRITERS) as writers:
            done = [(sid, found, writers.submit(state.key_bits, found.keys))
                    for sid, found in ((sid, members.pop(sid)) for sid in list(members))]
            for sid, found, writing in done:
                writing.result()
                yield sid, found
    else:
        for sid in list(members):
            yield sid, members.pop(sid)
    stages["state_ids_s"], stages["state_ids_cpu_s"] = time.perf_counter() - began, _process_cpu() - cpu


def _process_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def dictionary_columns(path: str, columns: list[str], share: float | None = None) -> list[str]:
    """String columns worth reading dictionary-encoded, by the rule the service's snapshots record per
    base file (`snapshots.low_cardinality_strings`), applied to the file's first row group.

    Low-cardinality fields (country, stage, status, city...) then reach the engine as indices plus a
    small dictionary, which it evaluates once per distinct value; ids and emails stay plain."""
    import pyarrow.parquet as pq
    from audience.evaluation.snapshots import low_cardinality_strings

    probe = pq.ParquetFile(path)
    if probe.num_row_groups == 0:
        return []
    wanted = [name for name in columns if name != "contact_id" and name in probe.schema_arrow.names]
    return low_cardinality_strings(probe.read_row_group(0, columns=wanted), share)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compare(contacts: str, events: str, rows: int, segments: int, repeat: int, *,
            log=print) -> dict[str, Any]:
    """Floor, engine and the peers `repeat` times each, interleaved; medians, spreads, ratios, count check."""
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for round_ in range(repeat):
        for kind in KINDS:
            outcome = run_once(kind, contacts, events, segments)
            runs[kind].append(outcome)
            log(f"  {rows:>12,} x {segments} {kind:<10} run {round_ + 1}/{repeat}: {outcome['seconds']:.2f}s "
                f"peak {outcome['peak_rss_mb']:.0f} MB")
    summary: dict[str, Any] = {"rows": rows, "segments": segments, "repeat": repeat}
    for kind, outcomes in runs.items():
        seconds = sorted(o["seconds"] for o in outcomes)
        median = _median(seconds)
        summary[kind] = {
            "seconds": median,
            "all_seconds": [round(s, 3) for s in seconds],
            "spread": (seconds[-1] - seconds[0]) / median if median else 0.0,
            "rows_per_s": rows / median if median else 0.0,
            "peak_rss_mb": max(o["peak_rss_mb"] for o in outcomes),
        }
    engine_counts = runs["engine"][0]["counts"]
    duck_counts = runs["duckdb"][0]["counts"]
    summary["counts_agree"] = engine_counts == duck_counts and all(
        o["counts"] == engine_counts for kind in KINDS if kind != "floor" for o in runs[kind])
    summary["disagreeing"] = sorted(s for s in engine_counts if any(
        o["counts"].get(s) != engine_counts[s] for kind in KINDS if kind != "floor" for o in runs[kind]))
    summary["members_total"] = sum(engine_counts.values())
    summary["duckdb_threads"] = runs["duckdb"][0].get("threads")
    summary["engine_threads"] = runs["engine"][0].get("threads")
    summary["engine_keyed"] = bool(runs["engine"][0].get("keyed"))  # the keyed pass + state ids, or the id pass
    for kind in ("engine", "engine_1t"):
        staged = [o["stages"] for o in runs[kind] if "stages" in o]
        if staged:
            summary[kind]["stages"] = {name: _median(sorted(s[name] for s in staged)) for name in staged[0]}
    summary["threads_speedup"] = summary["engine_1t"]["seconds"] / summary["engine"]["seconds"]
    summary["engine_vs_floor"] = summary["engine"]["seconds"] / summary["floor"]["seconds"]
    summary["engine_vs_duckdb"] = summary["engine"]["seconds"] / summary["duckdb"]["seconds"]
    summary["engine_vs_duckdb_ids"] = summary["engine"]["seconds"] / summary["duckdb_ids"]["seconds"]
    summary["engine_vs_polars"] = summary["engine"]["seconds"] / summary["polars"]["seconds"]
    summary["polars_threads"] = runs["polars"][0].get("threads")
    return summary


def allocator_check(contacts: str, events: str, rows: int, segments: int, repeat: int, *, log=print) -> dict:
    """The engine under Arrow's jemalloc pool vs the system allocator (PITFALLS: jemalloc helps here)."""
    found: dict[str, Any] = {"rows": rows, "segments": segments}
    times: dict[str, list[float]] = {"jemalloc": [], "system": []}
    peaks: dict[str, float] = {"jemalloc": 0.0, "system": 0.0}
    for _ in range(repeat):
        for pool in times:
            outcome = run_once("engine", contacts, events, segments, pool=pool)
            times[pool].append(outcome["seconds"])
            peaks[pool] = max(peaks[pool], outcome["peak_rss_mb"])
    for pool, seconds in times.items():
        found[pool] = {"seconds": _median(sorted(seconds)), "all_seconds": [round(s, 3) for s in sorted(seconds)],
                       "peak_rss_mb": peaks[pool]}
        log(f"  allocator {pool:<8}: {found[pool]['seconds']:.2f}s peak {peaks[pool]:.0f} MB")
    found["system_vs_jemalloc"] = found["system"]["seconds"] / found["jemalloc"]["seconds"]
    return found


def _median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    if n == 0:
        return 0.0
    mid = n // 2
    return sorted_values[mid] if n % 2 else (sorted_values[mid - 1] + sorted_values[mid]) / 2


if __name__ == "__main__":
    print(json.dumps(_work(json.loads(sys.argv[1]))))
