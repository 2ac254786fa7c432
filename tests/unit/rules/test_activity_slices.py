"""`sorted_slices`: sorted event streams cut into slices whose contacts no other slice has, in
ascending order, every row exactly once — what lets each slice be aggregated completely on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from audience.fields import DEFAULT_CATALOG
from audience.rules import parse_rule, vectorised
from audience.rules.activity_slices import UnsortedStream, sorted_slices
from audience.rules.vectorised import EventSource, SegmentEvaluator
from hypothesis import given, settings
from hypothesis import strategies as st

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)
ids = st.sampled_from(["a", "b", "bb", "c", "c1", "d", "é", "z"])
stream = st.lists(st.tuples(ids, st.integers(0, 99)), max_size=40).map(sorted)


def batches(rows: list[tuple[str, int]], size: int) -> list[pa.RecordBatch]:
    table = pa.table({"contact_id": pa.array([r[0] for r in rows], pa.string()),
                      "n": pa.array([r[1] for r in rows], pa.int64())})
    return table.to_batches(max_chunksize=size)


@settings(max_examples=200, deadline=None)
@given(streams=st.lists(stream, max_size=5), size=st.integers(1, 7), rows=st.integers(1, 30))
def test_slices_hold_disjoint_ascending_contacts_and_every_row_once(streams, size, rows):
    slices = list(sorted_slices([batches(s, size) for s in streams], rows))
    seen = sorted((c, n) for piece in (p for s in slices for p in s) for c, n in
                  zip(piece.column(0).to_pylist(), piece.column(1).to_pylist(), strict=True))
    assert seen == sorted(row for s in streams for row in s)
    contacts = [{c for piece in pieces for c in piece.column(0).to_pylist()} for pieces in slices]
    assert all(pieces and all(p.num_rows for p in pieces) for pieces in slices)
    for earlier, later in zip(contacts, contacts[1:], strict=False):
        assert max(c.encode() for c in earlier) < min(c.encode() for c in later)


def test_a_contact_longer_than_a_slice_stays_in_one_slice():
    long = [("b", n) for n in range(50)]
    slices = list(sorted_slices([batches([("a", 0), *long, ("c", 0)], 4), batches([("b", 99)], 4)], 3))
    holding_b = [s for s in slices if any("b" in p.column(0).to_pylist() for p in s)]
    assert len(holding_b) == 1
    assert sum(p.num_rows for p in holding_b[0]) == 51


def test_null_contact_ids_are_left_out():
    table = pa.table({"contact_id": pa.array(["a", "b", None], pa.string()), "n": pa.array([1, 2, 3])})
    slices = list(sorted_slices([table.to_batches()]))
    assert [p.column(0).to_pylist() for s in slices for p in s] == [["a", "b"]]


def test_an_unsorted_stream_is_refused():
    with pytest.raises(UnsortedStream):
        list(sorted_slices([batches([("b", 0), ("a", 0)], 1)]))


class _Streams(EventSource):
    def __init__(self, streams: list[list[pa.RecordBatch]]):
        self.streams = streams

    def fold(self, wanted, consume):
        return consume(self.streams)


def _event_batches(contacts: list[str], size: int, encoding: str) -> list[pa.RecordBatch]:
    """The events as batches of ``size``, their contact ids plain, dictionary-encoded (as a Parquet
    reader hands them over) or encoded with every id twice in the dictionary (Arrow allows it)."""
    ids = pa.array(contacts, pa.string())
    if encoding == "dictionary":
        ids = pc.dictionary_encode(ids)
    elif encoding == "duplicated":
        distinct = sorted(set(contacts))
        codes = [2 * distinct.index(c) + n % 2 for n, c in enumerate(contacts)]
        ids = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()),
                                             pa.array([c for c in distinct for _ in range(2)], pa.string()))
    table = pa.table({"contact_id": ids, "event": pa.array(["open"] * len(contacts)),
                      "occurred_at": pa.array([AS_OF - timedelta(days=1)] * len(contacts), pa.timestamp("us", "UTC"))})
    return table.to_batches(max_chunksize=size)


@settings(max_examples=300, deadline=None)
@given(streams=st.lists(st.one_of(st.lists(ids, max_size=12).map(sorted), st.lists(ids, max_size=12)),
                       min_size=1, max_size=4), size=st.integers(1, 8),
       rows=st.integers(1, 10), encoding=st.sampled_from(["plain", "dictionary", "duplicated"]))
def test_a_run_refuses_an_unsorted_stream_wherever_the_disorder_is(streams, size, rows, encoding):
    """Seams between batches are checked while slicing, the inside of every piece by the aggregation:
    an unsorted stream is refused, within a batch, across batches or across a cut, and a sorted one
    never is, whatever the ids' encoding. Sorted streams count each contact's events."""
    evaluator = SegmentEvaluator([("s", parse_rule({"event": "open", "aggregate": {"fn": "count", "op": "gte",
                                                                                   "value": 2}}, DEFAULT_CATALOG))],
                                 as_of=AS_OF, catalog=DEFAULT_CATALOG,
                                 events=_Streams([_event_batches(s, size, encoding) for s in streams]))
    unsorted = any([c.encode() for c in s] != sorted(c.encode() for c in s) for s in streams)
    with patch.object(vectorised, "SLICE_ROWS", rows):
        if unsorted:
            with pytest.raises(UnsortedStream):
                evaluator.prepare()
            return
        evaluator.prepare()
    everyone = sorted({c for s in streams for c in s})
    mask = evaluator.masks(pa.record_batch({"contact_id": pa.array(everyone, pa.string())}))["s"].to_pylist()
    assert mask == [sum(s.count(c) for s in streams) >= 2 for c in everyone]


@settings(max_examples=200, deadline=None)
@given(contacts=st.lists(ids, max_size=16).map(sorted), size=st.integers(1, 8), rows=st.integers(1, 10),
       encoding=st.sampled_from(["plain", "dictionary", "duplicated"]))
def test_one_sorted_streams_slices_rank_their_contacts_without_hashing_or_sorting_ids(contacts, size, rows,
                                                                                     encoding):
    """The log read as one stream (one object): its pieces arrive in order, so a slice's distinct
    contacts are its runs' ids without repeats (a contact cut between batches is one contact) — no
    dictionary of the slice's ids is built and none is sorted, and each contact's events still count."""
    evaluator = SegmentEvaluator([("s", parse_rule({"event": "open", "aggregate": {"fn": "count", "op": "gte",
                                                                                   "value": 2}}, DEFAULT_CATALOG))],
                                 as_of=AS_OF, catalog=DEFAULT_CATALOG,
                                 events=_Streams([_event_batches(contacts, size, encoding)]))

    def refused(*args, **kwargs):
        raise AssertionError("a sorted stream's ids were hashed or sorted")

    with patch.object(vectorised, "SLICE_ROWS", rows), patch.object(vectorised.pc, "dictionary_encode", refused), \
            patch.object(vectorised.pc, "sort_indices", refused):
        evaluator.prepare()
    everyone = sorted(set(contacts))
    mask = evaluator.masks(pa.record_batch({"contact_id": pa.array(everyone, pa.string())}))["s"].to_pylist()
    assert mask == [contacts.count(c) >= 2 for c in everyone]


def test_a_slice_hands_back_each_conditions_answer_as_one_byte_per_contact_not_its_aggregate():
    """What outlives a slice is its contacts and one byte per contact and condition (the run holds these
    until the pass), never the slice's float or timestamp aggregates."""
    conditions = {
        "spent": parse_rule({"event": "buy", "aggregate": {"fn": "sum", "field": "amount", "op": "gte", "value": 10}},
                            DEFAULT_CATALOG),
        "lately": parse_rule({"event": "buy", "aggregate": {"fn": "last_at", "op": "within_last_days", "value": 2}},
                             DEFAULT_CATALOG),
    }
    batch = pa.record_batch({
        "contact_id": pa.array(["a", "a", "b", "c"], pa.string()),
        "event": pa.array(["buy", "buy", "buy", "open"], pa.string()),
        "occurred_at": pa.array([AS_OF - timedelta(days=d) for d in (1, 5, 3, 1)], pa.timestamp("us", "UTC")),
        "properties": pa.array([[("amount", "4")], [("amount", "6")], [("amount", "30")], []],
                               pa.map_(pa.string(), pa.string())),
    })
    ids, answers = vectorised._aggregate(vectorised._SlicePlan(conditions, AS_OF), [batch])
    assert ids.to_pylist() == ["a", "b", "c"]
    assert {key: (found.dtype.name, found.tolist()) for key, found in answers.items()} == {
        "spent": ("uint8", [1, 1, 0]), "lately": ("uint8", [1, 0, 0])}


@settings(max_examples=200, deadline=None)
@given(contacts=st.lists(ids, min_size=1, max_size=24).map(sorted), size=st.integers(1, 8))
def test_one_streams_plain_ids_are_compared_run_to_run_only_where_its_pieces_meet(contacts, size):
    """Runs of plain ids differ within a piece by construction, so a slice of one stream compares its
    runs' ids only at the pieces' seams (a contact cut between two batches): no comparison of every
    run with the one before — and every event still gets its contact's rank among the slice's ids."""
    cond = parse_rule({"event": "open"}, DEFAULT_CATALOG)
    pieces = _event_batches(contacts, size, "plain")
    compared: list[int] = []
    real = vectorised.pc.not_equal

    def counted(left, right, *args, **kwargs):
        compared.append(len(left))
        return real(left, right, *args, **kwargs)

    with patch.object(vectorised.pc, "not_equal", counted):
        found = vectorised._SliceAggregates(vectorised._SlicePlan({"s": cond}, AS_OF), pieces)
    assert compared == [piece.num_rows - 1 for piece in pieces if piece.num_rows > 1]  # each piece's own ids only
    everyone = sorted(set(contacts))
    assert found.keys.to_pylist() == everyone
    assert found.position.tolist() == [everyone.index(c) for c in contacts]
