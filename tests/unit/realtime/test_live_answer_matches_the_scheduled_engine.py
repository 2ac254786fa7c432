"""Property: the real-time answer for one contact (``realtime.decide``: per-record rules, then
``place_contact``) is exactly what the scheduled run's vectorised path computes for that contact
(``evaluate_segments`` over a batch, suppression as one more rule, then ``place_masks``), over
random contacts, rules, categories, priorities, suppression settings and static placements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from audience.columnar import EVENTS_SCHEMA, contacts_schema
from audience.evaluation.placement import place_masks
from audience.fields import FieldCatalog, FieldType
from audience.realtime.decide import decide
from audience.realtime.tenant_rules import build_tenant_rules
from audience.rules import parse_rule
from audience.rules.vectorised import evaluate_segments
from audience.storage.records import Segment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

AS_OF = datetime(2024, 3, 10, 18, 30, tzinfo=UTC)
CATALOG = FieldCatalog({"plan": FieldType.STRING})
STATIC = ["s_tier", "s_none"]  # static segments: one in category "tier", one without
STATIC_CATEGORY = {"s_tier": "tier", "s_none": None}
DYNAMIC = ["d0", "d1", "d2", "d3", "d4"]

LEAVES = st.sampled_from(
    [
        {"field": "score", "op": "gte", "value": 50},
        {"field": "score", "op": "lt", "value": 20},
        {"field": "score", "op": "is_empty"},
        {"field": "city", "op": "eq", "value": "paris"},
        {"field": "city", "op": "neq", "value": "lyon"},
        {"field": "plan", "op": "in", "value": ["pro", "team"]},
        {"field": "tags", "op": "has_any", "value": ["vip"]},
        {"field": "subscribed", "op": "is_false"},
        {"field": "last_clicked_at", "op": "within_last_days", "value": 7},
        {"event": "purchase", "within_last_days": 30},
        {"event": "purchase", "aggregate": {"fn": "sum", "field": "amount", "op": "gt", "value": 10}},
        {"segment": "s_none"},
        {"segment": "s_tier"},
    ]
)


def rule_for(index: int) -> st.SearchStrategy:
    """Leaves, plus references to dynamic segments created before this one (no cycles)."""
    refs = [{"segment": sid} for sid in DYNAMIC[:index]]
    leaf = st.one_of(LEAVES, st.sampled_from(refs)) if refs else LEAVES
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda x: {"not": x}, inner),
        ),
        max_leaves=4,
    )


@st.composite
def tenants(draw):
    segments = []
    for index, sid in enumerate(DYNAMIC):
        segments.append(
            Segment(
                id=sid,
                name=sid,
                type="dynamic",
                rules=draw(rule_for(index)),
                category=draw(st.sampled_from([None, "tier", "tier", "region"])),
                priority=draw(st.integers(0, 2)),
                ignore_suppression=draw(st.booleans()),
                created_at=f"2024-01-0{draw(st.integers(1, 3))}",
                updated_at="2024-01-01",
                version=1,
            )
        )
    for sid in STATIC:
        segments.append(
            Segment(id=sid, name=sid, type="static", category=STATIC_CATEGORY[sid], created_at="2024-01-01",
                    updated_at="2024-01-01", version=1)
        )
    suppression = {
        "rules": draw(st.sampled_from([None, {"field": "city", "op": "eq", "value": "lyon"},
                                       {"event": "complaint", "within_last_days": 90}])),
        "received_at_least_never_clicked": {"enabled": draw(st.booleans()), "min_received": 3},
    }
    return segments, suppression


CONTACT = st.fixed_dictionaries(
    {},
    optional={
        "score": st.sampled_from([0, 10, 20, 49, 50, 80]),
        "city": st.sampled_from(["paris", "PARIS", "lyon", "", "oslo"]),
        "plan": st.sampled_from(["pro", "free", "TEAM"]),
        "tags": st.sampled_from([[], ["vip"], ["VIP", "b2b"], ["x"]]),
        "subscribed": st.booleans(),
        "last_clicked_at": st.sampled_from([AS_OF - timedelta(days=d) for d in (0, 3, 7, 8, 40)]),
        "sent_count": st.sampled_from([0, 2, 3, 10]),
        "clicks_count": st.sampled_from([0, 1]),
    },
)
EVENT = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["purchase", "complaint", "click"]),
        "days_ago": st.sampled_from([0, 5, 29, 31, 100]),
        "amount": st.sampled_from(["5", "7.5", "x"]),
    }
)


@st.composite
def populations(draw):
    contacts = draw(st.lists(CONTACT, min_size=1, max_size=12))
    people = []
    for index, fields in enumerate(contacts):
        people.append(
            (
                f"c{index}",
                fields,
                draw(st.lists(EVENT, max_size=3)),
                draw(st.sets(st.sampled_from(STATIC))),
            )
        )
    return people


def vectorised_placement(segments, suppression, people) -> dict[str, set[str]]:
    """What the scheduled run does for the same tenant, over one batch of every contact."""
    tenant_rules = build_tenant_rules("t", segments, CATALOG, suppression)
    schema = contacts_schema(CATALOG)
    rows = [{**fields, "contact_id": cid} for cid, fields, _, _ in people]
    batch = pa.RecordBatch.from_pydict({f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in schema},
                                       schema=schema)
    events = pa.Table.from_pylist(
        [
            {"contact_id": cid, "event": e["event"], "occurred_at": AS_OF - timedelta(days=e["days_ago"]),
             "properties": [("amount", e["amount"])]}
            for cid, _, evs, _ in people
            for e in evs
        ],
        schema=EVENTS_SCHEMA,
    )
    stored = {sid: pa.array([cid for cid, _, _, st_ in people if sid in st_], pa.string()) for sid in STATIC}
    rules = [(sid, tenant_rules.rules[sid]) for sid in tenant_rules.order]
    suppression_rule = tenant_rules.policy.as_rule_document()
    if suppression_rule:
        rules.append(("__suppression__", parse_rule(suppression_rule, CATALOG)))
    selected = evaluate_segments(rules, [batch], as_of=AS_OF, catalog=CATALOG, events=events, memberships=stored)
    ids = batch.column(0)
    masks = {sid: pc.is_in(ids, value_set=members) for sid, members in selected.items()}
    suppressed = masks.pop("__suppression__", None)
    static_taken = {"tier": pc.is_in(ids, value_set=stored["s_tier"])}
    joined = place_masks(masks, static_taken, tenant_rules.slots, suppressed)
    return {cid: {sid for sid, mask in joined.items() if mask[i].as_py()} for i, (cid, *_) in enumerate(people)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tenants(), populations())
def test_live_answer_equals_the_vectorised_run_for_every_contact(tenant, people):
    segments, suppression = tenant
    expected = vectorised_placement(segments, suppression, people)
    tenant_rules = build_tenant_rules("t", segments, CATALOG, suppression)
    for contact_id, fields, events, static in people:
        own_events = [
            {"event": e["event"], "occurred_at": AS_OF - timedelta(days=e["days_ago"]),
             "properties": {"amount": e["amount"]}}
            for e in events
        ]
        decision = decide(tenant_rules, fields, contact_id=contact_id, as_of=AS_OF, events=own_events,
                          static_memberships=static)
        assert set(decision.joined) == expected[contact_id], (contact_id, fields, events, static)
