"""What one batch decides is shared with the pass's later batches without changing any answer:
string values of dictionary-encoded columns are decided once per pass (each batch's dictionary holds
the same values in another order), and a batch's id bounds are its ends when its ids ascend."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc
from agreement import AS_OF, CATALOG, contacts_batch
from audience.rules import evaluate_record, parse_rule, vectorised
from audience.rules.vectorised import compile_segments
from hypothesis import given, settings
from hypothesis import strategies as st

CITIES = ["Paris", "LYON", "", "Berlin", "São Paulo", "paris"]
RULES = {
    "paris_or_lyon": {"field": "city", "op": "in", "value": ["paris", "lyon"]},
    "not_paris": {"field": "city", "op": "neq", "value": "paris"},
    "no_city": {"field": "city", "op": "is_empty"},
    "berl": {"field": "city", "op": "contains", "value": "berl"},
}


def _encoded(contacts: list[dict], order: list[str]) -> pa.RecordBatch:
    """The contacts' batch with ``city`` dictionary-encoded over ``order`` (a row group's own order)."""
    batch = contacts_batch(contacts)
    index = batch.schema.get_field_index("city")
    cities = batch.column(index)
    codes = pc.index_in(cities, value_set=pa.array(order, pa.string()))
    return batch.set_column(index, "city", pa.DictionaryArray.from_arrays(codes, pa.array(order, pa.string())))


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.lists(st.sampled_from([*CITIES, None]), max_size=12), min_size=1, max_size=5),
       seed=st.integers(0, 1000))
def test_dictionary_batches_in_any_value_order_answer_as_the_per_record_evaluator(batches, seed):
    shuffle = random.Random(seed)
    rules = [(sid, parse_rule(rule, CATALOG)) for sid, rule in RULES.items()]
    evaluator = compile_segments(rules, as_of=AS_OF, catalog=CATALOG)
    for number, cities in enumerate(batches):
        contacts = [{"contact_id": f"{number}-{n}", "city": city} for n, city in enumerate(cities)]
        order = [c for c in CITIES if c in cities]  # only the batch's values, as a row group's dictionary
        shuffle.shuffle(order)
        masks = evaluator.masks(_encoded(contacts, order or ["unused"]))
        for sid, rule in rules:
            expected = [evaluate_record(rule, c, as_of=AS_OF, catalog=CATALOG) for c in contacts]
            assert masks[sid].to_pylist() == expected, sid


def test_a_dictionary_leaf_decides_each_value_once_per_pass_not_once_per_batch(monkeypatch):
    decided: list[int] = []
    original = vectorised.condition_mask

    def counting(field_type, op, literal, values, *args, **kwargs):
        if op == "in":
            decided.append(len(values))
        return original(field_type, op, literal, values, *args, **kwargs)

    monkeypatch.setattr(vectorised, "condition_mask", counting)
    rule = parse_rule(RULES["paris_or_lyon"], CATALOG)
    evaluator = compile_segments([("s", rule)], as_of=AS_OF, catalog=CATALOG)
    contacts = [{"contact_id": str(n), "city": city} for n, city in enumerate(["Paris", "LYON", "Berlin"])]
    for order in (["Paris", "LYON", "Berlin"], ["Berlin", "Paris", "LYON"], ["LYON", "Berlin", "Paris"]):
        assert evaluator.masks(_encoded(contacts, order))["s"].to_pylist() == [True, True, False]
    assert sum(decided) <= 3 + 1  # three values once each (and the missing value's answer), not 3 x 3


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.one_of(st.none(), st.text(alphabet="ab\u00e9c", max_size=4)), max_size=30),
       index=st.lists(st.text(alphabet="ab\u00e9c", max_size=4), max_size=30), ascending=st.booleans())
def test_positions_in_a_sorted_index_are_exact_for_sorted_and_unsorted_batches(ids, index, ascending):
    if ascending:
        ids = sorted(ids, key=lambda i: (i is not None, (i or "").encode()))
    ordered = sorted(set(index), key=str.encode)  # bytewise, as Arrow sorts strings
    found = vectorised._positions(pa.array(ordered, pa.string()), pa.array(ids, pa.string())).to_pylist()
    assert found == [ordered.index(i) if i in ordered else None for i in ids]
    present = [i for i in ids if i is not None]
    low, high = vectorised._bounds(pa.array(ids, pa.string()))
    assert (low, high) == ((min(present, key=str.encode), max(present, key=str.encode)) if present else (None, None))


@settings(max_examples=200, deadline=None)
@given(flags=st.lists(st.booleans(), max_size=40))
def test_a_few_answers_held_as_python_booleans_spread_as_the_same_bytes_would(flags):
    fast = vectorised._spreadable_flags(flags)
    reference = vectorised._spreadable_bytes(pa.array(flags, pa.bool_()).cast(pa.uint8()).to_numpy())
    assert fast.answers.equals(reference.answers)
    assert (fast.trues, fast.odd) == (reference.trues, reference.odd)
    codes = pa.array(list(range(len(flags))) * 2, pa.int32())
    assert vectorised.spread(fast, codes).to_pylist() == flags * 2


def test_a_batchs_dictionary_is_read_into_python_once_for_every_leaf_on_its_column(monkeypatch):
    # guard (pure speed): four leaves on ``city``, one conversion of its dictionary per batch
    rules = [(sid, parse_rule(rule, CATALOG)) for sid, rule in RULES.items()]
    evaluator = compile_segments(rules, as_of=AS_OF, catalog=CATALOG)
    contacts = [{"contact_id": f"c{n}", "city": city} for n, city in enumerate(CITIES * 3)]
    batch = _encoded(contacts, list(dict.fromkeys(CITIES)))
    converted: list[int] = []
    original = vectorised._Batch.dictionary_values

    def counting(self, name, values):
        if name not in self.values:
            converted.append(len(values.dictionary))
        return original(self, name, values)

    monkeypatch.setattr(vectorised._Batch, "dictionary_values", counting)
    masks = evaluator.masks(batch)
    assert converted == [len(set(CITIES))]
    for sid, rule in rules:
        assert masks[sid].to_pylist() == [evaluate_record(rule, c, as_of=AS_OF, catalog=CATALOG) for c in contacts]
