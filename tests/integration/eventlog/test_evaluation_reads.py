"""The evaluator reading the event log: the same answers before and after compaction as the
per-record evaluator (property test), read as a stream of bounded chunks with push-down."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from audience.eventlog import LogEvents, append_events, compact, events_table
from audience.eventlog import append as append_module
from audience.eventlog import compaction as compaction_module
from audience.eventlog import reading as scan_module
from audience.eventlog.layout import load_manifest
from audience.fields import DEFAULT_CATALOG
from audience.rules import evaluate_record, parse_rule, vectorised
from audience.rules.vectorised import SegmentEvaluator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.eventlog.conftest import BUCKET

AS_OF = datetime(2025, 6, 15, 12, tzinfo=UTC)
CONTACTS = [f"c{n:02d}" for n in range(12)]
RULES = {
    "opened_lately": {"event": "open", "within_last_days": 30},
    "many_clicks": {"event": "click", "aggregate": {"fn": "count", "op": "gte", "value": 3}},
    "big_spender": {"event": "purchase", "within_last_days": 90,
                    "aggregate": {"fn": "sum", "field": "amount", "op": "gte", "value": 20}},
    "avg_basket": {"event": "purchase", "aggregate": {"fn": "avg", "field": "amount", "op": "gt", "value": 4}},
    "cheap_min": {"event": "purchase", "aggregate": {"fn": "min", "field": "amount", "op": "lte", "value": 2}},
    "top_max": {"event": "purchase", "where": [{"field": "channel", "op": "eq", "value": "web"}],
                "aggregate": {"fn": "max", "field": "amount", "op": "gte", "value": 7}},
    "first_old": {"event": "open", "aggregate": {"fn": "first_at", "op": "more_than_days_ago", "value": 100}},
    "last_recent": {"event": "click", "aggregate": {"fn": "last_at", "op": "within_last_days", "value": 10}},
    "never_bought": {"not": {"event": "purchase"}},
}
_tenants = itertools.count()

events_strategy = st.lists(
    st.tuples(st.sampled_from(CONTACTS), st.sampled_from(["open", "click", "purchase"]),
              st.integers(-3, 200), st.integers(0, 9), st.sampled_from(["web", "app"])),
    max_size=120,
)


def as_rows(drawn) -> list[tuple]:
    return [(c, e, AS_OF - timedelta(days=d, hours=h), _properties(h, ch)) for c, e, d, h, ch in drawn]


def _properties(h: int, channel: str) -> dict[str, str]:
    """Mostly {amount, channel}; some events without an amount, with one that is not a number, or with
    the keys in another order behind a third one (maps are looked up entry by entry)."""
    if h == 8:
        return {"channel": channel}
    if h == 9:
        return {"channel": channel, "amount": "n/a"}
    if h == 7:
        return {"note": "x", "channel": channel, "amount": str(h)}
    return {"amount": str(h), "channel": channel}


def vectorised_answer(source) -> dict[str, list[str]]:
    segments = [(sid, parse_rule(rule, DEFAULT_CATALOG)) for sid, rule in RULES.items()]
    evaluator = SegmentEvaluator(segments, as_of=AS_OF, catalog=DEFAULT_CATALOG, events=source)
    batch = pa.record_batch({"contact_id": pa.array(CONTACTS, pa.string())})
    masks = evaluator.masks(batch)
    return {sid: [c for c, hit in zip(CONTACTS, masks[sid].to_pylist(), strict=True) if hit] for sid in RULES}


def record_answer(rows) -> dict[str, list[str]]:
    by_contact: dict[str, list[dict]] = {}
    for c, e, t, p in rows:
        by_contact.setdefault(c, []).append({"event": e, "occurred_at": t, "properties": p})
    answer = {}
    for sid, rule in RULES.items():
        parsed = parse_rule(rule, DEFAULT_CATALOG)
        answer[sid] = [c for c in CONTACTS if evaluate_record(parsed, {"contact_id": c}, as_of=AS_OF,
                                                              catalog=DEFAULT_CATALOG, events=by_contact.get(c, []))]
    return answer


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=events_strategy, cut=st.integers(1, 4), dictionary=st.booleans())
def test_answers_are_the_per_record_ones_before_and_after_compaction(s3, monkeypatch, drawn, cut, dictionary):
    """``dictionary``: property keys and values read dictionary-encoded (as from large parts) or plain."""
    monkeypatch.setattr(scan_module, "DICTIONARY_SHARE", 1e9 if dictionary else 0.0)
    tenant = f"prop-{next(_tenants)}"
    rows = as_rows(drawn)
    size = max(1, len(rows) // cut)
    for number, start in enumerate(range(0, len(rows), size)):
        append_events(tenant, events_table(rows[start:start + size]), s3, f"b{number}", BUCKET)
    expected = record_answer(rows)
    assert vectorised_answer(LogEvents(tenant, s3, BUCKET)) == expected
    compact(tenant, s3, bucket=BUCKET, now=AS_OF)
    assert vectorised_answer(LogEvents(tenant, s3, BUCKET)) == expected


def test_property_columns_are_read_dictionary_encoded_only_where_stored_so(s3):
    """A part whose property keys and values are a few distinct strings is read with them as
    dictionaries; values nearly all different are read plain (as many dictionary entries as values)."""
    def encoded(tenant: str, properties) -> list[str]:
        rows = [(CONTACTS[n % 12], "purchase", AS_OF - timedelta(minutes=n), properties(n)) for n in range(5000)]
        append_events(tenant, events_table(rows), s3, "b", BUCKET)
        compact(tenant, s3, bucket=BUCKET, now=AS_OF)
        [part] = load_manifest(tenant, s3, BUCKET).parts
        metadata = pq.read_metadata(pa.BufferReader(s3.get_object(Bucket=BUCKET, Key=part.key)["Body"].read()))
        return scan_module.dictionary_columns(metadata, ["properties"])

    assert encoded("few", lambda n: {"amount": str(n % 5), "channel": "web"}) == [
        "properties.key_value.key", "properties.key_value.value"]
    assert encoded("many", lambda n: {"amount": str(n % 5), "url": f"/p/{n:06d}"}) == ["properties.key_value.key"]


def test_a_run_reads_the_log_in_bounded_slices_never_the_whole_history(s3, monkeypatch):
    monkeypatch.setattr(append_module, "ROW_GROUP_ROWS", 64)  # small row groups: many streamed batches
    monkeypatch.setattr(vectorised, "SLICE_ROWS", 100)
    monkeypatch.setattr(scan_module, "BATCH_ROWS", 64)
    rows = as_rows([(CONTACTS[n % 12], ["open", "click", "purchase"][n % 3], n % 150, n % 10, "web")
                    for n in range(3000)])
    for start in range(0, len(rows), 500):
        append_events("big", events_table(rows[start:start + 500]), s3, f"b{start}", BUCKET)
    compact("big", s3, bucket=BUCKET, now=AS_OF)
    slices: list[int] = []
    original = vectorised._SliceAggregates.__init__

    def spy(self, plan, pieces):
        slices.append(sum(piece.num_rows for piece in pieces))
        original(self, plan, pieces)

    monkeypatch.setattr(vectorised._SliceAggregates, "__init__", spy)
    source = LogEvents("big", s3, BUCKET)
    assert vectorised_answer(source) == record_answer(rows)
    assert source.largest_batch <= 64 and source.batches_read > 20
    parts = len(load_manifest("big", s3, BUCKET).parts)
    # a slice holds about SLICE_ROWS events (each part's stream adds at most one batch more), never the log
    assert len(slices) > 5 and max(slices) <= 100 + parts * 64


def test_a_large_object_is_read_with_one_get_per_row_group_not_per_column(s3, monkeypatch):
    monkeypatch.setattr(scan_module, "RANGED_MIN_BYTES", 0)  # every object read by ranged GETs
    monkeypatch.setattr(compaction_module, "ROW_GROUP_ROWS", 64)
    rows = as_rows([(CONTACTS[n % 12], ["open", "click", "purchase"][n % 3], n % 10, n % 10, "web")
                    for n in range(640)])  # one month: one part
    append_events("ranged", events_table(rows), s3, "all", BUCKET)
    compact("ranged", s3, bucket=BUCKET, now=AS_OF)
    [part] = load_manifest("ranged", s3, BUCKET).parts
    groups = pq.read_metadata(pa.BufferReader(s3.get_object(Bucket=BUCKET, Key=part.key)["Body"].read())).num_row_groups
    ranges = []
    get = s3.get_object

    def counted(**kwargs):
        if "Range" in kwargs:
            ranges.append(kwargs["Range"])
        return get(**kwargs)

    monkeypatch.setattr(s3, "get_object", counted)
    assert vectorised_answer(LogEvents("ranged", s3, BUCKET)) == record_answer(rows)
    assert groups >= 8 and len(ranges) <= groups + 3  # the footer, then one per row group (4 columns each)


def test_a_shard_reads_only_its_contacts_row_groups(s3, monkeypatch):
    monkeypatch.setattr(append_module, "ROW_GROUP_ROWS", 32)
    monkeypatch.setattr(scan_module, "BATCH_ROWS", 32)
    rows = as_rows([(CONTACTS[n % 12], "open", n % 20, 1, "web") for n in range(1200)])
    append_events("sharded", events_table(rows), s3, "all", BUCKET)
    compact("sharded", s3, bucket=BUCKET, now=AS_OF)
    whole, shard = LogEvents("sharded", s3, BUCKET), LogEvents("sharded", s3, BUCKET).for_contacts("c00", "c02")
    vectorised_answer(whole)
    answer = vectorised_answer(shard)
    assert shard.batches_read * 2 < whole.batches_read  # row groups of other contacts skipped
    assert answer["opened_lately"] == ["c00", "c01", "c02"]
