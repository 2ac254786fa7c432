"""Property: for random nested rules and random contacts and events, the vectorised evaluator selects
exactly the contacts the per-record evaluator accepts — for every segment of a run, whatever the
batching (one batch, many small ones, dictionary-encoded string columns, chunked events).

Values are drawn near the edges that matter: texts in case variants (and empty), integers and halves
(so sums and averages are exact in any order), NaN and -0.0, dates and instants on both sides of
as_of and of UTC midnight, lists with duplicates, null items and "", events just after as_of.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
from agreement import AS_OF, CATALOG, contacts_batch, dictionary_encoded, events_table, record_members, split
from audience.fields import FieldType
from audience.rules import parse_rule
from audience.rules.operators import AGGREGATE_FUNCTIONS, AGGREGATES_NEEDING_FIELD, OPERATORS, PROPERTY_OPERATORS
from audience.rules.vectorised import evaluate_segments
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DAY = timedelta(days=1)
US = timedelta(microseconds=1)
TODAY = AS_OF.date()

FIELDS = {
    FieldType.STRING: ["nickname", "city"],
    FieldType.NUMBER: ["score", "ltv"],
    FieldType.BOOLEAN: ["subscribed", "vip"],
    FieldType.DATE: ["birthday", "expected_purchase_date"],
    FieldType.DATETIME: ["seen_at", "last_clicked_at"],
    FieldType.LIST: ["tags", "interests"],
}
WORDS = ["anna", "Anna", "ANNA", "an", "ben", "Ben-Jo", "", " ", "zoë", "ZOË", "x y", "ΟΔΟΣ", "οδοσ", "İs", "is"]
texts = st.one_of(st.sampled_from(WORDS), st.text(alphabet="aAnN .-éÉ", max_size=4))
PATTERNS = ["a", "^A", "n+a$", "(?i)an", "[éë]", "x*", "^$", " ", "(?i)^(anna|ben)", r"\d", "Ο.Ο"]
numbers = st.one_of(st.integers(-3, 12), st.sampled_from([0.5, 2.5, -0.0, -1.5, 1e15]))
# Day counts and offsets favour the same few numbers, so values land exactly on window edges often.
EDGE_DAYS = [0, 1, 3, 7]
window_days = st.one_of(st.sampled_from(EDGE_DAYS), st.sampled_from(EDGE_DAYS), st.integers(0, 12))
day_offsets = st.one_of(st.sampled_from([d * sign for d in EDGE_DAYS for sign in (1, -1)]), st.integers(-10, 10))
# times of day around as_of (12:00) and around UTC midnight
TIME_OFFSETS = [timedelta(0), US, -US, timedelta(hours=-12), timedelta(hours=12) - US, timedelta(hours=11, minutes=59)]
times = st.one_of(st.just(timedelta(0)), st.sampled_from(TIME_OFFSETS[:3]), st.sampled_from(TIME_OFFSETS))
instants = st.builds(lambda d, t: AS_OF + d * DAY + t, day_offsets, times)
dates = st.builds(lambda d: TODAY + d * DAY, day_offsets)
ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]

CONTACT_VALUES = {
    FieldType.STRING: st.one_of(st.none(), texts),
    FieldType.NUMBER: st.one_of(st.none(), numbers, st.just(float("nan"))),
    FieldType.BOOLEAN: st.one_of(st.none(), st.booleans()),
    FieldType.DATE: st.one_of(st.none(), dates),
    FieldType.DATETIME: st.one_of(st.none(), instants),
    FieldType.LIST: st.one_of(st.none(), st.lists(st.one_of(st.none(), texts), max_size=4)),
}


# -- literals ---------------------------------------------------------------------------------------

@st.composite
def instant_literal(draw) -> tuple[str, datetime]:
    """An ISO literal (date-only, or a datetime with or without an offset) and the instant it starts at."""
    if draw(st.booleans()):
        day = draw(dates)
        return day.isoformat(), datetime(day.year, day.month, day.day, tzinfo=UTC)
    moment = draw(instants)
    zone = draw(st.sampled_from([*ZONES, None]))
    text = moment.replace(tzinfo=None).isoformat() if zone is None else moment.astimezone(zone).isoformat()
    return text, moment


@st.composite
def value_for(draw, kind_type: FieldType, op: str):
    kind = OPERATORS[kind_type][op]
    if kind == "none":
        return None
    if kind == "string":
        return draw(st.sampled_from(PATTERNS)) if op == "matches" else draw(texts)
    if kind == "strings":
        return draw(st.lists(texts, min_size=1, max_size=3))
    if kind == "number":
        return draw(numbers)
    if kind == "numbers":
        return draw(st.lists(numbers, min_size=1, max_size=3))
    if kind == "number_range":
        return sorted(draw(st.lists(numbers, min_size=2, max_size=2)))
    if kind == "days":
        return draw(window_days)
    if kind == "instant":
        return draw(instant_literal())[0]
    if kind == "instant_range":
        pair = sorted([draw(instant_literal()), draw(instant_literal())], key=lambda item: item[1])
        return [text for text, _ in pair]
    raise AssertionError(kind)


@st.composite
def field_condition(draw):
    field_type = draw(st.sampled_from(list(FIELDS)))
    field = draw(st.sampled_from(FIELDS[field_type]))
    op = draw(st.sampled_from(list(OPERATORS[field_type])))
    value = draw(value_for(field_type, op))
    return {"field": field, "op": op} if value is None else {"field": field, "op": op, "value": value}


PROPERTY_TEXTS = ["10", "5", "-0", "2.5", "n/a", "", "1e1", "0.5", "3", "Pro", "pro", "free", " 5"]


@st.composite
def property_condition(draw):
    op = draw(st.sampled_from(list(PROPERTY_OPERATORS)))
    kind = PROPERTY_OPERATORS[op]
    field = draw(st.sampled_from(["amount", "plan", "missing"]))
    prop_texts = st.sampled_from(PROPERTY_TEXTS)
    if kind == "none":
        return {"field": field, "op": op}
    if kind == "scalar":
        value = draw(st.one_of(numbers, prop_texts))
    elif kind == "scalars":
        value = draw(st.one_of(st.lists(numbers, min_size=1, max_size=3), st.lists(prop_texts, min_size=1, max_size=3)))
    elif kind == "string":
        value = draw(st.sampled_from(PATTERNS)) if op == "matches" else draw(prop_texts)
    elif kind == "number":
        value = draw(numbers)
    else:
        value = sorted(draw(st.lists(numbers, min_size=2, max_size=2)))
    return {"field": field, "op": op, "value": value}


@st.composite
def event_condition(draw):
    rule: dict = {"event": draw(st.sampled_from(["open", "buy"]))}
    where = draw(st.lists(property_condition(), max_size=2))
    if where:
        rule["where"] = where
    window = draw(st.one_of(st.none(), window_days))
    if window is not None:
        rule["within_last_days"] = window
    if draw(st.booleans()):
        fn = draw(st.sampled_from(AGGREGATE_FUNCTIONS))
        result_type = FieldType.DATETIME if fn in ("first_at", "last_at") else FieldType.NUMBER
        op = draw(st.sampled_from(list(OPERATORS[result_type])))
        aggregate = {"fn": fn, "op": op}
        if fn in AGGREGATES_NEEDING_FIELD:
            aggregate["field"] = draw(st.sampled_from(["amount", "plan"]))
        value = draw(value_for(result_type, op))
        if value is not None:
            aggregate["value"] = value
        rule["aggregate"] = aggregate
    return rule


def rule_of(references: list[str]):
    """Nested rules (at most 5 levels) whose references point only at `references`."""
    leaves = [field_condition(), field_condition(), event_condition(), event_condition()]
    if references:
        leaves.append(st.sampled_from(references).map(lambda sid: {"segment": sid}))
    leaf = st.one_of(*leaves)

    def extend(children):
        return st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda rules: {"all": rules}),
            st.lists(children, min_size=1, max_size=3).map(lambda rules: {"any": rules}),
            children.map(lambda rule: {"not": rule}),
        )

    return st.recursive(leaf, extend, max_leaves=6)


@st.composite
def segment_set(draw):
    """1-3 segments; each may reference earlier ones, a stored static segment or an unknown id."""
    segments = []
    for i in range(draw(st.integers(1, 3))):
        rule = draw(rule_of([f"s{j}" for j in range(i)] + ["static", "unknown"]))
        segments.append((f"s{i}", rule))
    return segments


# -- data ---------------------------------------------------------------------------------------------

ID_POOL = ["c0", "c1", "c2", "c10", "C3", "b", "z9", "é", "ä1", "0", "c00", "c_5", "Z", "ß", "c4", "c5", "c6",
           "c7", "c8", "c9"]


_ABSENT = object()
# a column of n values per field (None = null, _ABSENT = no key at all), drawn in one go
COLUMNS = [(name, st.one_of(st.just(_ABSENT), CONTACT_VALUES[field_type]))
           for field_type, names in FIELDS.items() for name in names]


@st.composite
def contacts_of(draw, ids: list[str]) -> list[dict]:
    records = [{"contact_id": cid} for cid in ids]
    for name, values in COLUMNS:
        for record, value in zip(records, draw(st.lists(values, min_size=len(ids), max_size=len(ids))), strict=True):
            if value is not _ABSENT:
                record[name] = value
    return records


event_days = st.one_of(st.sampled_from([-d for d in EDGE_DAYS]), st.sampled_from([-d for d in EDGE_DAYS]),
                       st.integers(-12, 1))


@st.composite
def event(draw, ids: list[str]):
    properties = {}
    for key in ("amount", "plan"):
        if draw(st.booleans()):
            properties[key] = draw(st.sampled_from(PROPERTY_TEXTS))
    return {
        "contact_id": draw(st.sampled_from([*ids, "ghost"])),
        "event": draw(st.sampled_from(["open", "buy", "open", "buy", "Buy"])),
        "occurred_at": AS_OF + draw(event_days) * DAY + draw(times),
        "properties": properties,
    }


@st.composite
def dataset(draw):
    ids = draw(st.permutations(ID_POOL))[: draw(st.integers(1, 16))]
    contacts = draw(contacts_of(ids))
    events = draw(st.lists(event(ids), max_size=3 * len(ids)))
    static = draw(st.lists(st.sampled_from([*ids, "elsewhere"]), max_size=5))
    return contacts, events, {"static": static}


def _members(segments, batches, events, memberships, *, chunks=1) -> dict[str, set[str]]:
    found = evaluate_segments(segments, batches, as_of=AS_OF, catalog=CATALOG, events=events_table(events, chunks),
                              memberships={sid: pa.array(ids, pa.string()) for sid, ids in memberships.items()})
    return {sid: set(ids.to_pylist()) for sid, ids in found.items()}


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(segments=segment_set(), data=dataset(), cuts=st.lists(st.integers(1, 7), max_size=8))
def test_both_evaluators_select_the_same_contacts_for_random_rules_and_data(segments, data, cuts):
    contacts, events, memberships = data
    parsed = [(sid, parse_rule(rule, CATALOG)) for sid, rule in segments]
    answers = record_members(parsed, contacts, events, as_of=AS_OF, catalog=CATALOG, memberships=memberships)
    expected = {sid: {c["contact_id"] for c, yes in zip(contacts, per, strict=True) if yes}
                for sid, per in answers.items()}

    batch = contacts_batch(contacts)
    assert _members(parsed, [batch], events, memberships) == expected
    # the same contacts cut into small batches, string columns dictionary-encoded, events in chunks
    pieces = [dictionary_encoded(piece) if i % 2 else piece for i, piece in enumerate(split(batch, cuts or [1]))]
    assert _members(parsed, pieces, events, memberships, chunks=3) == expected

