"""The per-record evaluator's tracing mode (what ``explain`` shows) gives ``evaluate_record``'s answer
at every node: the tree's ``result`` is the match, each child's ``result`` its own match."""

from __future__ import annotations

from audience.rules import evaluate_record, parse_rule, trace_record
from audience.rules.model import AllOf, AnyOf, Not
from hypothesis import HealthCheck, given, settings

from tests.unit.rules.agreement import AS_OF, CATALOG
from tests.unit.rules.test_evaluators_agree_property import worlds


def _check(rule, tree, **options):
    assert tree["result"] == evaluate_record(rule, **options)
    if isinstance(rule, AllOf | AnyOf):
        children = rule.all if isinstance(rule, AllOf) else rule.any
        for child, node in zip(children, tree["all" if isinstance(rule, AllOf) else "any"], strict=True):
            _check(child, node, **options)
    elif isinstance(rule, Not):
        _check(rule.not_, tree["not"], **options)
    else:
        assert "actual" in tree or "member" in tree


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(worlds())
def test_every_node_of_the_trace_is_the_evaluators_answer(world):
    people, events, stored, raw_rules = world
    by_contact: dict[str, list] = {}
    for event in events:
        by_contact.setdefault(event["contact_id"], []).append(event)
    for raw in raw_rules.values():
        rule = parse_rule(raw, CATALOG)
        for person in people:
            cid = person["contact_id"]
            options = {"contact": person, "as_of": AS_OF, "catalog": CATALOG, "events": by_contact.get(cid, []),
                       "member_of": lambda sid, cid=cid: sid == "stored" and cid in stored}
            _check(rule, trace_record(rule, **options), **options)


def test_trace_shows_the_value_and_the_aggregate_with_events_counted():
    rule = parse_rule({"all": [{"field": "ltv", "op": "gt", "value": 10},
                               {"event": "order", "aggregate": {"fn": "sum", "field": "amount", "op": "gte",
                                                                "value": 50}}]}, CATALOG)
    events = [{"event": "order", "occurred_at": "2024-06-01T00:00:00Z", "properties": {"amount": "30"}},
              {"event": "order", "occurred_at": "2024-06-02T00:00:00Z", "properties": {"amount": "15"}},
              {"event": "visit", "occurred_at": "2024-06-02T00:00:00Z", "properties": {}}]
    tree = trace_record(rule, {"contact_id": "c1", "ltv": 12}, as_of=AS_OF, catalog=CATALOG, events=events)
    assert tree["result"] is False
    field, activity = tree["all"]
    assert field == {"field": "ltv", "op": "gt", "value": 10, "result": True, "actual": 12}
    assert activity["result"] is False
    assert activity["actual"] == {"value": 45.0, "events": 2}
