"""The sample node (holdouts): SPEC's bucket formula, both evaluators, validation, and the split's
shares on 100,000 ids."""

from __future__ import annotations

from hashlib import sha256

import pyarrow as pa
import pytest
from audience.fields import FieldCatalog
from audience.rules import RuleValidationError, evaluate_record, parse_rule, rule_to_json
from audience.rules.sample import bucket, bucket_codes
from audience.rules.vectorised import evaluate_segments

from tests.unit.rules.agreement import AS_OF, both

CATALOG = FieldCatalog({})
IDS = [f"c{n:06d}" for n in range(100_000)]


def spec_bucket(seed: str, contact_id: str) -> float:
    return int(sha256((seed + ":" + contact_id).encode()).hexdigest()[:8], 16) % 10000 / 100


def test_bucket_is_the_spec_formula():
    for contact_id in ["a", "c000001", "ünï", "x#y:z", ""]:
        assert bucket("s1", contact_id) == spec_bucket("s1", contact_id)
    assert [c / 100 for c in bucket_codes("s1", IDS[:500])] == [spec_bucket("s1", c) for c in IDS[:500]]


def _vectorised(rules: dict[str, dict], ids: list[str]) -> dict[str, set[str]]:
    batch = pa.RecordBatch.from_pydict({"contact_id": pa.array(ids, pa.string())})
    parsed = [(name, parse_rule(rule, CATALOG)) for name, rule in rules.items()]
    found = evaluate_segments(parsed, [batch], as_of=AS_OF, catalog=CATALOG)
    return {name: set(members.to_pylist()) for name, members in found.items()}


def test_buckets_are_disjoint_and_near_their_share_on_100000_ids():
    splits = {"holdout": (0, 10), "test_a": (10, 55), "test_b": (55, 100)}
    rules = {name: {"sample": {"from": low, "to": high, "seed": "exp-7"}} for name, (low, high) in splits.items()}
    members = _vectorised(rules, IDS)
    assert members["holdout"].isdisjoint(members["test_a"]) and members["test_a"].isdisjoint(members["test_b"])
    assert members["holdout"] | members["test_a"] | members["test_b"] == set(IDS)
    for name, (low, high) in splits.items():
        share = 100 * len(members[name]) / len(IDS)
        assert abs(share - (high - low)) <= 1.5, (name, share)
    # the per-record evaluator draws the same line on a slice of the ids
    rule = parse_rule(rules["holdout"], CATALOG)
    chosen = {c for c in IDS[:3000] if evaluate_record(rule, {"contact_id": c}, as_of=AS_OF, catalog=CATALOG)}
    assert chosen == members["holdout"] & set(IDS[:3000])


def test_rule_minus_a_holdout_keeps_the_rest_and_seeds_split_independently():
    holdout = {"sample": {"from": 0, "to": 10, "seed": "h"}}
    rule = {"all": [{"field": "contact_id", "op": "starts_with", "value": "c0"}, {"not": holdout}]}
    other = {"sample": {"from": 0, "to": 10, "seed": "other"}}
    members = _vectorised({"kept": rule, "held": holdout, "other": other}, IDS[:20_000])
    assert members["kept"] == set(IDS[:20_000]) - members["held"]
    assert members["held"] != members["other"]
    overlap = len(members["held"] & members["other"]) / 20_000
    assert 0.005 <= overlap <= 0.015  # independent 10% splits overlap on ~1%


def test_sample_agrees_between_evaluators_on_edges():
    ids = [{"contact_id": c} for c in IDS[:400]]
    for low, high in [(0, 100), (0, 0.01), (99.99, 100), (12.34, 56.78)]:
        both({"sample": {"from": low, "to": high, "seed": "edge"}}, contacts=ids)


@pytest.mark.parametrize(
    ("sample", "path"),
    [
        ({"from": 10, "to": 10, "seed": "s"}, "/rules/sample/to"),
        ({"from": -1, "to": 10, "seed": "s"}, "/rules/sample/from"),
        ({"from": 0, "to": 100.5, "seed": "s"}, "/rules/sample/to"),
        ({"from": 0, "to": 10, "seed": ""}, "/rules/sample/seed"),
        ({"from": 0, "to": 10, "seed": 7}, "/rules/sample/seed"),
        ({"from": True, "to": 10, "seed": "s"}, "/rules/sample/from"),
        ({"from": 0, "to": 10}, "/rules/sample/seed"),
        ({"from": 0, "to": 10, "seed": "s", "extra": 1}, "/rules/sample/extra"),
    ],
)
def test_bad_samples_are_rejected_at_their_path(sample, path):
    with pytest.raises(RuleValidationError) as raised:
        parse_rule({"sample": sample}, CATALOG)
    assert path in [e["path"] for e in raised.value.errors]


def test_sample_round_trips_through_json():
    rule = {"sample": {"from": 0, "to": 12.5, "seed": "s"}}
    assert rule_to_json(parse_rule(rule, CATALOG)) == rule
