"""Property: for random nested rules (every form: all, any, not, field conditions with every operator,
activity conditions with where/window/aggregate, segment references) over random contacts and
events, the per-record and the vectorised evaluators select exactly the same contacts.

Values are drawn from small pools that sit on the edges that matter (window boundaries to the
microsecond, UTC midnight, case variants, empty values of every kind, -0.0, numbers that look like
numbers or do not), so random rules hit them often. Each example evaluates three segments (one
referencing another and a stored membership) over ~40 contacts split across two batches.

Property numbers are multiples of 0.25 so that sums are exact in binary floating point: a sum's last
bit may depend on the order of additions, which differs between the engines (documented in
docs/rules.md), and that is not a disagreement about the rule language.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from agreement import contacts_batch, events_table
from audience.fields import FieldCatalog, FieldType
from audience.rules import evaluate_record, parse_rule
from audience.rules.operators import AGGREGATE_FUNCTIONS, AGGREGATES_NEEDING_FIELD, OPERATORS, PROPERTY_OPERATORS
from audience.rules.operators import ValueKind as K
from audience.rules.vectorised import evaluate_segments
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

AS_OF = datetime(2024, 3, 10, 18, 30, tzinfo=UTC)
TODAY = AS_OF.date()
US = timedelta(microseconds=1)
CATALOG = FieldCatalog({"plan": FieldType.STRING, "ltv": FieldType.NUMBER, "renewal_on": FieldType.DATE})
FIELDS = {
    FieldType.STRING: ["city", "email", "plan"],
    FieldType.NUMBER: ["score", "ltv"],
    FieldType.BOOLEAN: ["subscribed"],
    FieldType.DATE: ["expected_purchase_date", "renewal_on"],
    FieldType.DATETIME: ["last_clicked_at", "created_at"],
    FieldType.LIST: ["tags"],
}
MISSING = object()

# ---- pools ---------------------------------------------------------------------------------------

WORDS = ["paris", "Paris", "PARIS", "par", "is", "lyon", "a", "İstanbul", "istanbul", "ΟΔΟΣ", "οδοσ", "x y"]
STORED_STRINGS = [*WORDS, "", " ", None, MISSING]
REGEXES = ["^p", "(?i)^p", "s$", "a|o", "^$", "(?i)İ", "^.{1,3}$", "[0-9]"]
NUMBERS = [-1, 0, 0.5, 1, 2.5, 10, 100]
STORED_NUMBERS = [*NUMBERS, -0.0, 2.4999, math.nan, None, MISSING]
DAYS = [0, 1, 7, 30]
OFFSETS = [timedelta(0), US, -US, timedelta(days=1), timedelta(days=7), timedelta(days=7) + US,
           timedelta(days=7) - US, timedelta(days=30), timedelta(hours=6), timedelta(hours=19)]
STORED_INSTANTS = [AS_OF + o for o in OFFSETS] + [AS_OF - o for o in OFFSETS] + [None, MISSING]
STORED_DATES = [TODAY + timedelta(days=d) for d in (-31, -30, -8, -7, -1, 0, 1, 7, 8, 30)] + [None, MISSING]
INSTANT_LITERALS = ["2024-03-10", "2024-03-09", "2024-03-03", "2024-03-11", "2024-03-10T18:30:00Z",
                    "2024-03-10T18:30:00.000001+00:00", "2024-03-10T20:30:00+02:00", "2024-03-10T23:00:00-05:00",
                    "2024-03-03T18:30:00", "2024-02-09T00:00:00Z"]
TAGS = ["vip", "VIP", "b2b", "x", ""]
PROPERTY_TEXTS = ["10", "2.5", "0.25", "-1", "abc", "", "1e3", " 5", "5.", "-0", "Promo", "promo", "0x10"]
PROPERTY_NAMES = ["amount", "code"]
EVENT_NAMES = ["purchase", "click"]


def _instant_key(text: str) -> datetime:
    from audience.rules.model import parse_instant

    moment = parse_instant(text)
    return moment if isinstance(moment, datetime) else datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def value_for(kind: K) -> st.SearchStrategy:
    strings = st.sampled_from(WORDS)
    numbers = st.sampled_from(NUMBERS)
    instants = st.sampled_from(INSTANT_LITERALS)
    if kind is K.STRING:
        return strings
    if kind is K.STRINGS:
        return st.lists(strings, min_size=1, max_size=3)
    if kind is K.NUMBER:
        return numbers
    if kind is K.NUMBERS:
        return st.lists(numbers, min_size=1, max_size=3)
    if kind is K.NUMBER_RANGE:
        return st.lists(numbers, min_size=2, max_size=2).map(sorted)
    if kind is K.INSTANT:
        return instants
    if kind is K.INSTANT_RANGE:
        return st.lists(instants, min_size=2, max_size=2).map(lambda pair: sorted(pair, key=_instant_key))
    if kind is K.DAYS:
        return st.sampled_from(DAYS)
    if kind is K.SCALAR:
        return st.one_of(numbers, st.sampled_from(["promo", "10", "abc", "2.5"]))
    if kind is K.SCALARS:
        return st.one_of(st.lists(numbers, min_size=1, max_size=3),
                         st.lists(st.sampled_from(["promo", "10", "abc"]), min_size=1, max_size=3))
    raise AssertionError(kind)


# Strategies are built once, at import: hypothesis validates a strategy on first use, and building
# them inside each draw made validation most of the test's time.
VALUES = {kind: value_for(kind) for kind in K if kind is not K.NONE}


def condition(op: str, kind: K, **head) -> st.SearchStrategy:
    if kind is K.NONE:
        return st.just({**head, "op": op})
    values = st.sampled_from(REGEXES) if op == "matches" else VALUES[kind]
    return values.map(lambda v: {**head, "op": op, "value": v})


FIELD_CONDITIONS = st.one_of([condition(op, kind, field=name)
                              for field_type, names in FIELDS.items() for name in names
                              for op, kind in sorted(OPERATORS[field_type].items())])
WHERE_CONDITIONS = st.one_of([condition(op, kind, field=name) for name in PROPERTY_NAMES
                              for op, kind in sorted(PROPERTY_OPERATORS.items())])


def _aggregate(fn: str, op: str, kind: K) -> st.SearchStrategy:
    base = condition(op, kind, fn=fn)
    if fn not in AGGREGATES_NEEDING_FIELD:
        return base
    return st.tuples(base, st.sampled_from(PROPERTY_NAMES)).map(lambda pair: {**pair[0], "field": pair[1]})


AGGREGATES = st.one_of([
    _aggregate(fn, op, kind) for fn in AGGREGATE_FUNCTIONS
    for op, kind in sorted(OPERATORS[FieldType.DATETIME if fn in ("first_at", "last_at") else FieldType.NUMBER].items())
])


@st.composite
def event_conditions(draw):
    rule = {"event": draw(st.sampled_from(EVENT_NAMES))}
    where = draw(st.lists(WHERE_CONDITIONS, max_size=2))
    if where:
        rule["where"] = where
    if draw(st.booleans()):
        rule["within_last_days"] = draw(st.sampled_from(DAYS))
    if draw(st.booleans()):
        rule["aggregate"] = draw(AGGREGATES)
    return rule


SAMPLES = st.tuples(st.sampled_from([0, 0.5, 10, 33.33, 50]), st.sampled_from([10, 50, 66.67, 99.99, 100]),
                    st.sampled_from(["a", "holdout-2024"])).filter(lambda t: t[0] < t[1]).map(
    lambda t: {"sample": {"from": t[0], "to": t[1], "seed": t[2]}})


def rules(references: list[str]) -> st.SearchStrategy:
    leaves = [FIELD_CONDITIONS, FIELD_CONDITIONS, event_conditions(), SAMPLES]
    if references:
        leaves.append(st.sampled_from(references).map(lambda s: {"segment": s}))
    return st.recursive(
        st.one_of(leaves),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda rs: {"all": rs}),
            st.lists(children, min_size=1, max_size=3).map(lambda rs: {"any": rs}),
            children.map(lambda r: {"not": r}),
        ),
        max_leaves=8,
    )


BASE_RULES, DERIVED_RULES, OTHER_RULES = rules(["stored"]), rules(["base", "stored", "unknown"]), rules([])


def _picks(draw, pool, size):
    """`size` items of `pool` from one draw of bytes (cheap to generate, shrinks towards pool[0])."""
    return [pool[b % len(pool)] for b in draw(st.binary(min_size=size, max_size=size))]


TAG_LISTS = [None, MISSING, [], ["vip"], ["VIP", "x"], [""], ["b2b", "vip"], ["x"], ["Vip", "VIP"], ["b2b"]]
POOLS = {
    FieldType.STRING: STORED_STRINGS, FieldType.NUMBER: STORED_NUMBERS, FieldType.BOOLEAN: [True, False, None, MISSING],
    FieldType.DATE: STORED_DATES, FieldType.DATETIME: STORED_INSTANTS, FieldType.LIST: TAG_LISTS,
}


@st.composite
def contacts(draw):
    size = draw(st.integers(min_value=1, max_value=40))
    people = [{"contact_id": f"c{i:03d}"} for i in range(size)]
    for field_type, names in FIELDS.items():
        for name in names:
            for person, value in zip(people, _picks(draw, POOLS[field_type], size), strict=True):
                if value is not MISSING:
                    person[name] = value
    return people


@st.composite
def events_for(draw, people):
    ids = [p["contact_id"] for p in people]
    moments = [AS_OF - o for o in OFFSETS] + [AS_OF + US, AS_OF + timedelta(days=2)]
    amounts = PROPERTY_TEXTS + [str(q / 4) for q in range(-8, 400, 7)]
    count = draw(st.integers(min_value=0, max_value=3 * len(ids)))
    # A property is absent (MISSING), stored as null (None: how the writer stores an empty value) or
    # stored verbatim, "" included (`events_table(..., verbatim=True)`): all empty forms must agree.
    columns = [_picks(draw, pool, count) for pool in (
        ids, [*EVENT_NAMES, "Purchase"], moments, [MISSING, None, *amounts], [MISSING, None, *PROPERTY_TEXTS])]
    events = []
    for cid, name, when, amount, code in zip(*columns, strict=True):
        properties = {k: v for k, v in (("amount", amount), ("code", code)) if v is not MISSING}
        events.append({"contact_id": cid, "event": name, "occurred_at": when, "properties": properties})
    return events


@st.composite
def worlds(draw):
    people = draw(contacts())
    events = draw(events_for(people))
    stored = set(_picks(draw, [p["contact_id"] for p in people] + ["ghost"], len(people) // 2))
    base, derived, other = draw(BASE_RULES), draw(DERIVED_RULES), draw(OTHER_RULES)
    return people, events, stored, {"derived": derived, "base": base, "other": other}


def per_record(rules_by_id, people, events, stored) -> dict[str, set[str]]:
    by_contact: dict[str, list] = {}
    for event in events:
        by_contact.setdefault(event["contact_id"], []).append(event)
    found: dict[str, set[str]] = {}
    for sid in ("base", "other", "derived"):  # references first
        found[sid] = set()
        for person in people:
            cid = person["contact_id"]
            members = {"stored": stored, "base": found.get("base", set())}

            def member_of(segment_id, cid=cid, members=members):
                return cid in members.get(segment_id, set())

            if evaluate_record(rules_by_id[sid], person, as_of=AS_OF, catalog=CATALOG,
                               events=by_contact.get(cid, []), member_of=member_of):
                found[sid].add(cid)
    return found


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(worlds())
def test_per_record_and_vectorised_evaluators_agree(world):
    people, events, stored, raw_rules = world
    parsed = {sid: parse_rule(rule, CATALOG) for sid, rule in raw_rules.items()}
    expected = per_record(parsed, people, events, stored)
    half = len(people) // 2
    batches = [contacts_batch(people[:half], CATALOG), contacts_batch(people[half:], CATALOG)]
    found = evaluate_segments(
        list(parsed.items()), batches, as_of=AS_OF, catalog=CATALOG,
        events=events_table(events, verbatim=True) if events else None,
        memberships={"stored": pa.array(sorted(stored), pa.string())},
    )
    assert {sid: set(ids.to_pylist()) for sid, ids in found.items()} == expected, raw_rules


def test_the_generator_reaches_every_field_type():
    # A pool change that left a type out would silently weaken the property above.
    assert set(FIELDS) == set(FieldType)
