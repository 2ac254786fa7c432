"""parse_rule reports every violation at once, each at the JSON pointer of the offending node."""

from __future__ import annotations

import pytest
from audience.fields import DEFAULT_CATALOG, FieldCatalog, FieldType
from audience.rules import RuleValidationError, parse_rule, rule_to_json


def errors_of(data, catalog=DEFAULT_CATALOG, **kwargs) -> list[dict[str, str]]:
    with pytest.raises(RuleValidationError) as caught:
        parse_rule(data, catalog, **kwargs)
    assert all(set(e) == {"path", "message"} and e["message"] for e in caught.value.errors)
    return caught.value.errors


def paths_of(data, catalog=DEFAULT_CATALOG, **kwargs) -> list[str]:
    return [e["path"] for e in errors_of(data, catalog, **kwargs)]


def test_every_violation_is_reported_at_once_with_its_pointer():
    rule = {"all": [
        {"field": "email", "op": "contains", "value": "@x.io"},
        {"field": "nope", "op": "eq", "value": "x"},
        {"field": "age", "op": "contains", "value": "1"},
        {"field": "age", "op": "gt", "value": "18"},
        {"any": [{"field": "subscribed", "op": "is_true", "value": True}, {"field": "tags", "op": "has_any"}]},
        {"not": {"field": "created_at", "op": "within_last_days", "value": -3}},
        {"event": "purchase", "where": [{"field": "amount", "op": "gt", "value": "x"}], "within_last_days": 1.5},
    ]}
    assert paths_of(rule) == [
        "/rules/all/1/field",
        "/rules/all/2/op",
        "/rules/all/3/value",
        "/rules/all/4/any/0/value",
        "/rules/all/4/any/1/value",
        "/rules/all/5/not/value",
        "/rules/all/6/where/0/value",
        "/rules/all/6/within_last_days",
    ]


def test_the_pointer_prefix_is_the_callers():
    assert paths_of({"field": "nope", "op": "eq", "value": 1}, pointer="/segments/0/rules") == [
        "/segments/0/rules/field"]


@pytest.mark.parametrize("data, path", [
    (None, "/rules"),
    ([], "/rules"),
    ({}, "/rules"),
    ({"all": [], }, "/rules/all"),
    ({"any": {}}, "/rules/any"),
    ({"all": [{"field": "email", "op": "is_empty"}], "any": []}, "/rules"),
    ({"all": [{"field": "email", "op": "is_empty"}], "extra": 1}, "/rules/extra"),
    ({"not": {"field": "email", "op": "is_empty"}, "x/y": 1}, "/rules/x~1y"),
    ({"field": "email", "op": "is_empty", "extra": 1}, "/rules/extra"),
    ({"field": "email", "value": "x"}, "/rules/op"),
    ({"op": "eq", "value": "x", "field": 3}, "/rules/field"),
    ({"field": "email", "op": ["eq"], "value": "x"}, "/rules/op"),
    ({"field": "email", "op": "gt", "value": "x"}, "/rules/op"),
    ({"field": "email", "op": "eq"}, "/rules/value"),
    ({"field": "email", "op": "eq", "value": None}, "/rules/value"),
    ({"field": "email", "op": "eq", "value": 3}, "/rules/value"),
    ({"field": "email", "op": "is_empty", "value": "x"}, "/rules/value"),
    ({"field": "email", "op": "in", "value": []}, "/rules/value"),
    ({"field": "email", "op": "in", "value": "a"}, "/rules/value"),
    ({"field": "email", "op": "in", "value": ["a", 3]}, "/rules/value/1"),
    ({"field": "age", "op": "in", "value": [1, "2"]}, "/rules/value/1"),
    ({"field": "age", "op": "eq", "value": True}, "/rules/value"),
    ({"field": "age", "op": "between", "value": [3, 1]}, "/rules/value"),
    ({"field": "age", "op": "between", "value": [1, 2, 3]}, "/rules/value"),
    ({"field": "age", "op": "between", "value": [1, "2"]}, "/rules/value/1"),
    ({"field": "subscribed", "op": "eq", "value": True}, "/rules/op"),
    ({"field": "tags", "op": "has_all", "value": []}, "/rules/value"),
    ({"field": "tags", "op": "has_none", "value": [1]}, "/rules/value/0"),
    ({"field": "tags", "op": "contains", "value": "x"}, "/rules/op"),
    ({"field": "created_at", "op": "on", "value": "yesterday"}, "/rules/value"),
    ({"field": "created_at", "op": "on", "value": 20240101}, "/rules/value"),
    ({"field": "created_at", "op": "between", "value": ["2024-02-01", "2024-01-31"]}, "/rules/value"),
    ({"field": "created_at", "op": "between", "value": ["2024-01-02", "2024-01-01T23:59:59Z"]}, "/rules/value"),
    ({"field": "created_at", "op": "between", "value": ["2024-01-01", "nope"]}, "/rules/value/1"),
    ({"field": "created_at", "op": "within_last_days", "value": 1.5}, "/rules/value"),
    ({"field": "created_at", "op": "within_next_days", "value": -1}, "/rules/value"),
    ({"field": "created_at", "op": "more_than_days_ago", "value": "7"}, "/rules/value"),
    ({"field": "expected_purchase_date", "op": "eq", "value": "2024-01-01"}, "/rules/op"),
    ({"event": ""}, "/rules/event"),
    ({"event": "x", "where": {}}, "/rules/where"),
    ({"event": "x", "where": ["a"]}, "/rules/where/0"),
    ({"event": "x", "where": [{"field": "p", "op": "has_any", "value": ["a"]}]}, "/rules/where/0/op"),
    ({"event": "x", "where": [{"field": "p", "op": "in", "value": ["a", 1]}]}, "/rules/where/0/value"),
    ({"event": "x", "where": [{"field": "", "op": "is_empty"}]}, "/rules/where/0/field"),
    ({"event": "x", "within_last_days": -1}, "/rules/within_last_days"),
    ({"event": "x", "within_last_days": True}, "/rules/within_last_days"),
    ({"event": "x", "aggregate": []}, "/rules/aggregate"),
    ({"event": "x", "aggregate": {"fn": "median"}}, "/rules/aggregate/fn"),
    ({"event": "x", "aggregate": {"fn": "sum", "op": "gt", "value": 1}}, "/rules/aggregate/field"),
    ({"event": "x", "aggregate": {"fn": "count", "field": "p", "op": "gt", "value": 1}}, "/rules/aggregate/field"),
    ({"event": "x", "aggregate": {"fn": "count", "op": "on", "value": "2024-01-01"}}, "/rules/aggregate/op"),
    ({"event": "x", "aggregate": {"fn": "last_at", "op": "gt", "value": 1}}, "/rules/aggregate/op"),
    ({"event": "x", "aggregate": {"fn": "first_at", "op": "within_last_days", "value": "3"}},
     "/rules/aggregate/value"),
    ({"event": "x", "aggregate": {"fn": "count", "op": "gte", "value": 1, "x": 1}}, "/rules/aggregate/x"),
    ({"segment": ""}, "/rules/segment"),
    ({"segment": 5}, "/rules/segment"),
])
def test_a_bad_node_is_named_by_its_pointer(data, path):
    assert path in paths_of(data)


def test_custom_fields_are_typed_by_the_catalog():
    catalog = FieldCatalog({"plan": FieldType.STRING, "ltv": FieldType.NUMBER})
    parse_rule({"all": [{"field": "plan", "op": "eq", "value": "pro"}, {"field": "ltv", "op": "gt", "value": 9}]},
               catalog)
    assert paths_of({"field": "ltv", "op": "contains", "value": "x"}, catalog) == ["/rules/op"]
    assert paths_of({"field": "plan", "op": "eq", "value": "pro"}) == ["/rules/field"]  # not in the default catalog


# ---- limits -------------------------------------------------------------------------------------


def nested(depth: int) -> dict:
    rule: dict = {"field": "email", "op": "is_empty"}
    for _ in range(depth - 1):
        rule = {"all": [rule]}
    return rule


def test_depth_six_is_accepted_and_seven_is_rejected_at_the_deepest_node():
    parse_rule(nested(6), DEFAULT_CATALOG)
    assert paths_of(nested(7)) == ["/rules" + "/all/0" * 6]


def test_not_counts_as_a_level():
    rule: dict = {"field": "email", "op": "is_empty"}
    for _ in range(6):
        rule = {"not": rule}
    assert paths_of(rule) == ["/rules" + "/not" * 6]


def test_one_hundred_conditions_are_accepted_and_the_hundred_and_first_is_named():
    leaf = {"field": "email", "op": "is_empty"}
    parse_rule({"any": [leaf] * 100}, DEFAULT_CATALOG)
    assert paths_of({"any": [leaf] * 101}) == ["/rules/any/100"]


def test_where_conditions_count_toward_the_limit():
    where = [{"field": "p", "op": "is_empty"}] * 50
    # event a, its 50 where conditions, event b and 48 of its: the 101st is b's where/48.
    assert paths_of({"all": [{"event": "a", "where": where}, {"event": "b", "where": where}]}) == [
        "/rules/all/1/where/48"]


def test_strings_of_a_thousand_characters_pass_and_longer_ones_fail():
    parse_rule({"field": "email", "op": "contains", "value": "x" * 1000}, DEFAULT_CATALOG)
    assert paths_of({"field": "email", "op": "contains", "value": "x" * 1001}) == ["/rules/value"]
    assert paths_of({"field": "email", "op": "in", "value": ["ok", "x" * 1001]}) == ["/rules/value/1"]
    assert paths_of({"event": "e" * 1001}) == ["/rules/event"]
    assert paths_of({"segment": "s" * 1001}) == ["/rules/segment"]


def test_lists_of_a_thousand_items_pass_and_longer_ones_fail():
    parse_rule({"field": "tags", "op": "has_any", "value": [str(i) for i in range(1000)]}, DEFAULT_CATALOG)
    assert paths_of({"field": "tags", "op": "has_any", "value": [str(i) for i in range(1001)]}) == ["/rules/value"]
    assert paths_of({"field": "age", "op": "in", "value": list(range(1001))}) == ["/rules/value"]


# ---- values -------------------------------------------------------------------------------------


def test_between_accepts_equal_bounds():
    parse_rule({"field": "age", "op": "between", "value": [5, 5]}, DEFAULT_CATALOG)
    parse_rule({"field": "created_at", "op": "between", "value": ["2024-01-01", "2024-01-01"]}, DEFAULT_CATALOG)
    parse_rule({"field": "created_at", "op": "between", "value": ["2024-01-01", "2024-01-01T00:00:00Z"]},
               DEFAULT_CATALOG)


@pytest.mark.parametrize("text", ["2024-06-01", "2024-06-01T10:00:00Z", "2024-06-01T10:00:00+02:00",
                                  "2024-06-01T10:00:00.123456Z", "2024-06-01 10:00", "20240601"])
def test_iso_8601_dates_and_datetimes_are_accepted(text):
    parse_rule({"field": "created_at", "op": "after", "value": text}, DEFAULT_CATALOG)


def test_day_counts_are_whole_non_negative_numbers():
    parse_rule({"field": "created_at", "op": "within_last_days", "value": 0}, DEFAULT_CATALOG)
    for bad in (-1, 1.5, -1.0, 100_001.0, float("inf"), float("nan"), "1", True, None, 100_001):
        assert paths_of({"field": "created_at", "op": "within_last_days", "value": bad}) == ["/rules/value"]


def test_a_whole_float_day_count_is_the_integer_json_schema_says_it_is_and_parses_as_an_int():
    # the rule schema says "type": "integer", which 53769.0 is (schemathesis sent it and met a 422)
    rule = parse_rule({"all": [
        {"field": "created_at", "op": "within_last_days", "value": 53769.0},
        {"event": "open", "within_last_days": 30.0,
         "where": [{"field": "n", "op": "gt", "value": 2.0}],
         "aggregate": {"fn": "last_at", "op": "more_than_days_ago", "value": 7.0}},
    ]}, DEFAULT_CATALOG)
    condition, activity = rule.all
    assert condition.value == 53769 and type(condition.value) is int
    assert activity.within_last_days == 30 and type(activity.within_last_days) is int
    assert type(activity.aggregate.value) is int
    assert type(activity.where[0].value) is float  # a number, not a day count: left as sent


def test_a_unary_operator_may_carry_an_explicit_null_value():
    rule = parse_rule({"field": "email", "op": "is_empty", "value": None}, DEFAULT_CATALOG)
    assert rule_to_json(rule) == {"field": "email", "op": "is_empty"}


@pytest.mark.parametrize("number", [float("nan"), float("inf")])
def test_non_finite_numbers_are_rejected(number):
    assert paths_of({"field": "age", "op": "gt", "value": number}) == ["/rules/value"]


# ---- regular expressions ------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["^[a-z]+@gmail\\.com$", "(?i)^vip", "a|b", "\\d{3}-\\d{4}", "(?P<x>ab)+",
                                     "(?i)straße", "[a-z]{2,3}"])
def test_regexes_both_engines_accept_are_accepted(pattern):
    parse_rule({"field": "email", "op": "matches", "value": pattern}, DEFAULT_CATALOG)


@pytest.mark.parametrize("pattern", [
    "(a",  # invalid everywhere
    "(?=x)y",  # lookahead: Python only
    "(a)\\1",  # back reference: Python only
    "(?<!a)b",  # lookbehind: Python only
    "\\pL",  # Unicode class: RE2 only
    "a(?i)b",  # flags not at the start: RE2 only
    "a{1001}",  # repetition beyond RE2's limit
    "[[:alpha:]]",  # a POSIX class to RE2, a nested set to Python
])
def test_regexes_outside_the_shared_subset_are_rejected(pattern):
    assert paths_of({"field": "email", "op": "matches", "value": pattern}) == ["/rules/value"]


def test_regex_errors_in_event_properties_are_reported_too():
    rule = {"event": "page_view", "where": [{"field": "url", "op": "matches", "value": "(?=x)"}]}
    assert paths_of(rule) == ["/rules/where/0/value"]


# ---- segment references --------------------------------------------------------------------------


def test_references_to_unknown_segments_are_rejected_when_a_resolver_is_given():
    known = {"a", "b"}
    rule = {"any": [{"segment": "a"}, {"segment": "zzz"}, {"not": {"segment": "yyy"}}]}
    assert paths_of(rule, segment_exists=known.__contains__) == ["/rules/any/1/segment", "/rules/any/2/not/segment"]
    parse_rule(rule, DEFAULT_CATALOG)  # without a resolver, references are not checked


# ---- round trip ---------------------------------------------------------------------------------


def test_rule_to_json_is_lossless_and_canonical():
    data = {"all": [
        {"field": "email", "op": "matches", "value": "(?i)^a"},
        {"not": {"segment": "s1"}},
        {"any": [{"field": "age", "op": "between", "value": [1, 2.5]}, {"field": "subscribed", "op": "is_false"}]},
        {"event": "purchase", "within_last_days": 0,
         "where": [{"field": "sku", "op": "in", "value": ["a", "b"]}, {"field": "n", "op": "is_not_empty"}],
         "aggregate": {"fn": "avg", "field": "amount", "op": "gt", "value": 10}},
        {"event": "open"},
    ]}
    rule = parse_rule(data, DEFAULT_CATALOG)
    out = rule_to_json(rule)
    assert out["all"][4] == {"event": "open", "aggregate": {"fn": "count", "op": "gte", "value": 1}}
    assert out["all"][:4] == data["all"][:4]
    assert parse_rule(out, DEFAULT_CATALOG) == rule
    import json

    assert json.loads(json.dumps(out)) == out


def test_an_ambiguous_regex_is_rejected_every_time_not_only_the_first():
    rule = {"field": "email", "op": "matches", "value": "[[:digit:]]x"}
    assert paths_of(rule) == paths_of(rule) == ["/rules/value"]
