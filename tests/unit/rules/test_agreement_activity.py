"""Activity conditions and segment references, through both evaluators.

Covers every aggregate (count, sum, min, max, avg, first_at, last_at) on contacts with and without
matching events, the window's edges, events after as_of (ignored), `where` typing (a property is a
number when the operator is gt/gte/lt/lte/between or the value is a number, and only if its text
looks like one), references to segments of the same pass and to stored (static) memberships.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from agreement import AS_OF, both

DAY = timedelta(days=1)
US = timedelta(microseconds=1)

# Contacts: c0 has no events at all; the others hold the events listed for them.
PEOPLE = ["c0", "c1", "c2", "c3", "c4"]


def ev(contact_id, event="purchase", when=AS_OF - DAY, **properties):
    return {"contact_id": contact_id, "event": event, "occurred_at": when, "properties": properties}


def contacts():
    return [{"contact_id": cid} for cid in PEOPLE]


def run(rule, events, **options):
    return both(rule, contacts=contacts(), events=events, **options)


PURCHASES = [
    ev("c1", amount="60"), ev("c1", amount="40"),  # sum 100, min 40, max 60, avg 50
    ev("c2", amount="10"), ev("c2", amount="n/a"), ev("c2", amount=""),  # only 10 is a number
    ev("c3", amount="abc"), ev("c3"),  # events without a numeric amount
    ev("c4", "page_view", amount="500"),  # another event name
]


AGGREGATE_CASES = [
    ({"fn": "count", "op": "gte", "value": 1}, [False, True, True, True, False]),
    ({"fn": "count", "op": "eq", "value": 0}, [True, False, False, False, True]),
    ({"fn": "count", "op": "eq", "value": 3}, [False, False, True, False, False]),
    ({"fn": "count", "op": "between", "value": [2, 2]}, [False, True, False, True, False]),
    ({"fn": "sum", "field": "amount", "op": "gte", "value": 100}, [False, True, False, False, False]),
    ({"fn": "sum", "field": "amount", "op": "eq", "value": 0}, [True, False, False, True, True]),  # no numbers: 0
    ({"fn": "sum", "field": "amount", "op": "lt", "value": 10}, [True, False, False, True, True]),
    ({"fn": "sum", "field": "amount", "op": "is_empty"}, [False] * 5),  # a sum is never empty
    ({"fn": "count", "op": "is_not_empty"}, [True] * 5),
    ({"fn": "min", "field": "amount", "op": "eq", "value": 40}, [False, True, False, False, False]),
    ({"fn": "min", "field": "amount", "op": "lte", "value": 10}, [False, False, True, False, False]),
    ({"fn": "max", "field": "amount", "op": "gt", "value": 59.5}, [False, True, False, False, False]),
    ({"fn": "avg", "field": "amount", "op": "eq", "value": 50}, [False, True, False, False, False]),
    ({"fn": "avg", "field": "amount", "op": "eq", "value": 10}, [False, False, True, False, False]),
    # min/max/avg of nothing is empty: positives fail, is_empty and negatives pass
    ({"fn": "min", "field": "amount", "op": "is_empty"}, [True, False, False, True, True]),
    ({"fn": "max", "field": "amount", "op": "neq", "value": 60}, [True, False, True, True, True]),
    ({"fn": "avg", "field": "amount", "op": "not_in", "value": [50]}, [True, False, True, True, True]),
    ({"fn": "avg", "field": "amount", "op": "lt", "value": 1000}, [False, True, True, False, False]),
    ({"fn": "first_at", "op": "is_empty"}, [True, False, False, False, True]),
    ({"fn": "last_at", "op": "is_not_empty"}, [False, True, True, True, False]),
]


@pytest.mark.parametrize(("aggregate", "expected"), AGGREGATE_CASES)
def test_aggregates_over_contacts_with_and_without_matching_events(aggregate, expected):
    assert run({"event": "purchase", "aggregate": aggregate}, PURCHASES) == expected


def test_the_default_aggregate_is_at_least_one_event():
    assert run({"event": "purchase"}, PURCHASES) == [False, True, True, True, False]
    assert run({"not": {"event": "page_view"}}, PURCHASES) == [True, True, True, True, False]


def test_event_names_compare_exactly():
    events = [ev("c1", "Purchase"), ev("c2", "purchase ")]
    assert run({"event": "purchase"}, events) == [False] * 5


def test_window_edges_are_inclusive_and_events_after_as_of_are_ignored():
    events = [
        ev("c1", when=AS_OF - 7 * DAY),  # on the window's first instant
        ev("c2", when=AS_OF - 7 * DAY - US),  # just before it
        ev("c3", when=AS_OF),  # now
        ev("c4", when=AS_OF + US),  # in the future: ignored, with or without a window
    ]
    assert run({"event": "purchase", "within_last_days": 7}, events) == [False, True, False, True, False]
    assert run({"event": "purchase"}, events) == [False, True, True, True, False]
    assert run({"event": "purchase", "within_last_days": 0}, events) == [False, False, False, True, False]


def test_first_at_and_last_at_are_the_earliest_and_latest_counted_events():
    events = [
        ev("c1", when=AS_OF - 20 * DAY), ev("c1", when=AS_OF - 2 * DAY),
        ev("c2", when=AS_OF - 20 * DAY), ev("c2", when=AS_OF + DAY),  # the future one does not count
        ev("c3", when=AS_OF - 3 * DAY),
    ]
    last_recent = {"event": "purchase", "aggregate": {"fn": "last_at", "op": "within_last_days", "value": 7}}
    assert run(last_recent, events) == [False, True, False, True, False]
    first_old = {"event": "purchase", "aggregate": {"fn": "first_at", "op": "more_than_days_ago", "value": 10}}
    assert run(first_old, events) == [False, True, True, False, False]
    on_day = {"event": "purchase",
              "aggregate": {"fn": "first_at", "op": "on", "value": (AS_OF - 20 * DAY).date().isoformat()}}
    assert run(on_day, events) == [False, True, True, False, False]
    before = {"event": "purchase",
              "aggregate": {"fn": "last_at", "op": "before", "value": (AS_OF - 2 * DAY).isoformat()}}
    assert run(before, events) == [False, False, True, True, False]


def test_the_window_applies_before_aggregating():
    events = [ev("c1", amount="70", when=AS_OF - 40 * DAY), ev("c1", amount="50", when=AS_OF - DAY)]
    rule = {"event": "purchase", "within_last_days": 30,
            "aggregate": {"fn": "sum", "field": "amount", "op": "gte", "value": 100}}
    assert run(rule, events) == [False] * 5
    rule["within_last_days"] = 40
    assert run(rule, events) == [False, True, False, False, False]


# -- where: property typing ---------------------------------------------------------------------

AMOUNTS = [ev("c1", amount="10"), ev("c2", amount="9"), ev("c3", amount="10.0"), ev("c4", amount="ten")]


WHERE_CASES = [
    # gt/gte/lt/lte/between compare numerically: "10" > 9 although "10" < "9" as text
    ({"field": "amount", "op": "gt", "value": 9}, [False, True, False, True, False]),
    ({"field": "amount", "op": "lte", "value": 9.5}, [False, False, True, False, False]),
    ({"field": "amount", "op": "between", "value": [9, 10]}, [False, True, True, True, False]),
    # eq/neq/in/not_in: numerically when the value is a number, as text otherwise
    ({"field": "amount", "op": "eq", "value": 10}, [False, True, False, True, False]),
    ({"field": "amount", "op": "eq", "value": "10"}, [False, True, False, False, False]),
    ({"field": "amount", "op": "in", "value": [9, 10]}, [False, True, True, True, False]),
    ({"field": "amount", "op": "in", "value": ["10.0", "TEN"]}, [False, False, False, True, True]),
    # not-a-number text is empty for a numeric comparison: it passes only the negatives
    ({"field": "amount", "op": "neq", "value": 10}, [False, False, True, False, True]),
    ({"field": "amount", "op": "not_in", "value": [9]}, [False, True, False, True, True]),
    # string operators ignore case
    ({"field": "amount", "op": "eq", "value": "TEN"}, [False, False, False, False, True]),
    ({"field": "amount", "op": "starts_with", "value": "1"}, [False, True, False, True, False]),
    ({"field": "amount", "op": "ends_with", "value": ".0"}, [False, False, False, True, False]),
    ({"field": "amount", "op": "contains", "value": "E"}, [False, False, False, False, True]),
    ({"field": "amount", "op": "not_contains", "value": "0"}, [False, False, True, False, True]),
    ({"field": "amount", "op": "matches", "value": "^[0-9]+$"}, [False, True, True, False, False]),
    ({"field": "amount", "op": "is_not_empty"}, [False, True, True, True, True]),
    # a property the events do not have is empty
    ({"field": "coupon", "op": "is_empty"}, [False, True, True, True, True]),
    ({"field": "coupon", "op": "neq", "value": "x"}, [False, True, True, True, True]),
    ({"field": "coupon", "op": "eq", "value": "x"}, [False] * 5),
    ({"field": "Amount", "op": "is_not_empty"}, [False] * 5),  # property names are exact
]


@pytest.mark.parametrize(("where", "expected"), WHERE_CASES)
def test_where_conditions_type_the_property_by_operator_and_value(where, expected):
    assert run({"event": "purchase", "where": [where]}, AMOUNTS) == expected


@pytest.mark.parametrize(("text", "number"), [
    ("5", 5.0), ("-5", -5.0), ("05", 5.0), ("2.5", 2.5), ("1e3", 1000.0), ("1E-1", 0.1), ("-0", 0.0),
    (" 5", None), ("5 ", None), ("+5", None), ("5.", None), (".5", None), ("1,5", None), ("0x10", None),
    ("1e999", None), ("nan", None), ("inf", None), ("", None), ("٣", None),
])
def test_only_plain_decimal_text_is_a_number(text, number):
    events = [ev("c1", amount=text)]
    looks_numeric = {"event": "purchase", "where": [{"field": "amount", "op": "is_not_empty"}],
                     "aggregate": {"fn": "sum", "field": "amount", "op": "neq", "value": 0}}
    expected = number not in (None, 0.0)
    assert run(looks_numeric, events) == [False, expected, False, False, False]
    counted = {"event": "purchase", "aggregate": {"fn": "max", "field": "amount", "op": "is_not_empty"}}
    assert run(counted, events) == [False, number is not None, False, False, False]


def test_property_values_of_any_json_type_compare_by_their_text():
    # The per-record evaluator receives raw JSON values; the event log stores their text.
    events = [ev("c1", qty=3), ev("c2", qty=2.5), ev("c3", flag=True), ev("c4", qty=None)]
    assert run({"event": "purchase", "where": [{"field": "qty", "op": "gte", "value": 2.5}]}, events) == \
        [False, True, True, False, False]
    assert run({"event": "purchase", "where": [{"field": "flag", "op": "eq", "value": "TRUE"}]}, events) == \
        [False, False, False, True, False]
    assert run({"event": "purchase", "where": [{"field": "qty", "op": "is_empty"}]}, events) == \
        [False, False, False, True, True]


def test_numeric_in_treats_negative_zero_as_zero():
    events = [ev("c1", amount="-0"), ev("c2", amount="0"), ev("c3", amount="0.5")]
    assert run({"event": "purchase", "where": [{"field": "amount", "op": "in", "value": [0]}]}, events) == \
        [False, True, True, False, False]


def test_every_where_condition_must_hold_on_the_same_event():
    events = [ev("c1", plan="pro", amount="5"), ev("c1", plan="free", amount="50"),
              ev("c2", plan="PRO", amount="50")]
    rule = {"event": "purchase", "where": [{"field": "plan", "op": "eq", "value": "pro"},
                                           {"field": "amount", "op": "gt", "value": 10}]}
    assert run(rule, events) == [False, False, True, False, False]


def test_aggregates_count_only_the_events_where_selects():
    events = [ev("c1", plan="pro", amount="5"), ev("c1", plan="free", amount="50"), ev("c2", plan="free")]
    rule = {"event": "purchase", "where": [{"field": "plan", "op": "eq", "value": "pro"}],
            "aggregate": {"fn": "sum", "field": "amount", "op": "eq", "value": 5}}
    assert run(rule, events) == [False, True, False, False, False]
    zero = {"event": "purchase", "where": [{"field": "plan", "op": "eq", "value": "pro"}],
            "aggregate": {"fn": "count", "op": "eq", "value": 0}}
    assert run(zero, events) == [True, False, True, True, True]


def test_activity_mixes_with_field_conditions_and_negation():
    people = [{"contact_id": "c0", "country": "US"}, {"contact_id": "c1", "country": "us"},
              {"contact_id": "c2", "country": "DE"}, {"contact_id": "c3"}]
    events = [ev("c1"), ev("c2"), ev("c3", "email_click")]
    rule = {"any": [{"all": [{"field": "country", "op": "eq", "value": "US"}, {"not": {"event": "purchase"}}]},
                    {"event": "email_click", "within_last_days": 3}]}
    assert both(rule, contacts=people, events=events) == [True, False, False, True]


def test_contact_ids_in_any_order_and_unicode_find_their_events():
    people = [{"contact_id": cid} for cid in ["z9", "a1", "é", "A1", "a10", "ä", "0"]]
    events = [ev(cid) for cid in ["é", "A1", "0", "nobody"]]
    assert both({"event": "purchase"}, contacts=people, events=events) == \
        [False, False, True, True, False, False, True]


# -- segment references ---------------------------------------------------------------------------

def test_references_to_segments_of_the_same_pass_follow_their_rules():
    people = [{"contact_id": "c0", "country": "US", "score": 90}, {"contact_id": "c1", "country": "US"},
              {"contact_id": "c2", "country": "DE", "score": 95}, {"contact_id": "c3"}]
    others = {"us": {"field": "country", "op": "eq", "value": "us"},
              "hot": {"field": "score", "op": "gte", "value": 80},
              "us_hot": {"all": [{"segment": "us"}, {"segment": "hot"}]}}
    assert both({"segment": "us_hot"}, contacts=people, others=others) == [True, False, False, False]
    assert both({"any": [{"segment": "us_hot"}, {"not": {"segment": "us"}}]}, contacts=people, others=others) == \
        [True, False, True, True]


def test_references_to_stored_memberships_and_unknown_segments():
    people = [{"contact_id": f"c{i}"} for i in range(4)]
    memberships = {"static": ["c1", "c3", "someone-else"], "empty": []}
    assert both({"segment": "static"}, contacts=people, memberships=memberships) == [False, True, False, True]
    assert both({"segment": "empty"}, contacts=people, memberships=memberships) == [False] * 4
    assert both({"segment": "gone"}, contacts=people, memberships=memberships) == [False] * 4
    assert both({"not": {"segment": "gone"}}, contacts=people, memberships=memberships) == [True] * 4


def test_a_segment_of_the_pass_wins_over_stored_members_of_the_same_id():
    people = [{"contact_id": "c0", "country": "US"}, {"contact_id": "c1", "country": "DE"}]
    others = {"us": {"field": "country", "op": "eq", "value": "US"}}
    stale = {"us": ["c1"]}  # last run's members: the pass recomputes the segment
    assert both({"segment": "us"}, contacts=people, others=others, memberships=stale) == [True, False]
