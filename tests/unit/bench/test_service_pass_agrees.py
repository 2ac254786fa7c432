"""The benchmark's engine column is the service's keyed pass plus its keys-only states
(`side_by_side.service_pass`); the peers are held to `bench_peers.engine_members` (the id pass). The
two must select exactly the same members, or the peers' table compares different work."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from audience.evaluation import keyed as keyed_members
from audience.evaluation import snapshots
from bench_peers import engine_members

from bench import datagen, ruleset, side_by_side


def test_keyed_files_carry_dense_contact_keys_and_events_sorted_by_contact(dataset):
    contacts = pq.read_table(dataset.contacts, columns=["contact_id", snapshots.KEY])
    assert contacts.schema.field(snapshots.KEY).type == snapshots.KEY_TYPE
    assert contacts.column(snapshots.KEY).to_pylist() == list(range(dataset.rows))
    events = pq.read_table(dataset.events)
    assert events.schema.metadata[b"sorted_by_contact"] == b"1"
    order = events.sort_by([("contact_id", "ascending"), ("occurred_at", "ascending")])
    assert events.select(["contact_id", "occurred_at"]).equals(order.select(["contact_id", "occurred_at"]))


def test_keyed_generation_writes_the_same_contacts_and_events_as_key_less(dataset, tmp_path):
    plain = datagen.generate(dataset.rows, tmp_path, events_per_contact=3.0, chunk=2_500)
    keyed = pq.read_table(dataset.contacts)
    assert keyed.drop_columns([snapshots.KEY]).equals(pq.read_table(plain.contacts))
    ordering = [("contact_id", "ascending"), ("occurred_at", "ascending"), ("event", "ascending")]
    assert pq.read_table(dataset.events).sort_by(ordering).replace_schema_metadata(None).equals(
        pq.read_table(plain.events).sort_by(ordering).replace_schema_metadata(None))


@pytest.mark.parametrize("threads", ["1", "2"])
def test_the_benchmarks_service_pass_keeps_exactly_the_engines_members_as_keys(dataset, monkeypatch,
                                                                                        threads):
    monkeypatch.setenv("EVALUATION_THREADS", threads)
    segments = ruleset.segments(50)
    expected = engine_members(segments, dataset)
    stages: dict[str, float] = {}
    noted: dict = {}
    found = dict(side_by_side.service_pass(str(dataset.contacts), str(dataset.events), 50, batch_size=1_000,
                                           stages=stages, noted=noted))
    assert noted["keyed"] is True  # the keyed path ran, not the id pass's fallback
    assert list(found) == [sid for sid, _ in segments]
    assert all(isinstance(members, keyed_members.KeyedMembers) for members in found.values())  # no ids taken
    for sid, members in found.items():
        ids = members.in_order().ids  # outside the pass's clock: what the state's keys name
        assert set(ids.to_pylist()) == expected[sid], sid
        assert len(ids) == len(expected[sid]) == len(members)
    assert {"prepare_s", "masks_cpu_s", "key_sets_s", "pass_cpu_s", "state_ids_s", "state_ids_cpu_s"} <= set(stages)


def test_the_benchmarks_states_are_encoded_on_as_many_writers_as_the_run_writes_segments(dataset, monkeypatch):
    """The service encodes each segment's keys-only state on `results.finish`'s segment writers
    (several segments at once); the bench's state stage does the same, not one segment after another."""
    from audience.evaluation import results, state

    assert side_by_side.SEGMENT_WRITERS == results.SEGMENT_WRITERS
    threads: set[str] = set()
    real = state.key_bits

    def key_bits(key_set):
        import threading

        threads.add(threading.current_thread().name)
        return real(key_set)

    monkeypatch.setattr(state, "key_bits", key_bits)
    found = dict(side_by_side.service_pass(str(dataset.contacts), str(dataset.events), 20, batch_size=1_000))
    assert len(found) == 20
    assert threading_main() not in threads and 1 <= len(threads) <= results.SEGMENT_WRITERS


def threading_main() -> str:
    import threading

    return threading.main_thread().name
