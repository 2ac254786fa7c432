"""Saving a rule: every violation reported at once at its JSON pointer; limits at their edges; the
regex subset; segment references, cycles and evaluation order; the canonical JSON round trip."""

from __future__ import annotations

import pytest
from agreement import CATALOG, example_rules
from audience.rules import (
    RuleValidationError,
    dependency_order,
    find_cycle,
    parse_rule,
    referenced_segments,
    rule_to_json,
)


def errors(rule, **options) -> list[tuple[str, str]]:
    with pytest.raises(RuleValidationError) as caught:
        parse_rule(rule, CATALOG, **options)
    return [(e["path"], e["message"]) for e in caught.value.errors]


def paths(rule, **options) -> list[str]:
    return [path for path, _ in errors(rule, **options)]


def leaf(i: int = 0) -> dict:
    return {"field": "score", "op": "gt", "value": i}


def test_every_problem_is_reported_at_once_with_its_json_pointer():
    rule = {"all": [
        {"field": "nope", "op": "eq", "value": "x"},
        {"field": "age", "op": "contains", "value": "x"},
        {"field": "age", "op": "gt", "value": "ten"},
        {"field": "subscribed", "op": "is_true", "value": True},
        {"field": "email", "op": "eq"},
        {"any": []},
        {"field": "score", "op": "between", "value": [5, 1]},
        {"field": "country", "op": "in", "value": []},
        {"field": "tags", "op": "has_any", "value": ["a", 1]},
        {"not": {"event": "", "where": [{"field": "a", "op": "has_any", "value": ["x"]}]}},
        {"field": "email", "op": "eq", "value": "a", "extra": 1},
        "not a rule",
    ]}
    assert paths(rule) == [
        "/rules/all/0/field",
        "/rules/all/1/op",
        "/rules/all/2/value",
        "/rules/all/3/value",
        "/rules/all/4/value",
        "/rules/all/5/any",
        "/rules/all/6/value",
        "/rules/all/7/value",
        "/rules/all/8/value/1",
        "/rules/all/9/not/event",
        "/rules/all/9/not/where/0/op",
        "/rules/all/10/extra",
        "/rules/all/11",
    ]


def test_the_pointer_prefix_is_the_callers():
    assert paths({"field": "nope", "op": "eq", "value": 1}, pointer="/segments/3/rules") == \
        ["/segments/3/rules/field"]


def test_messages_name_the_problem():
    found = dict(errors({"all": [{"field": "nope", "op": "eq", "value": 1},
                                 {"field": "age", "op": "contains", "value": "x"}]}))
    assert "unknown field 'nope'" in found["/rules/all/0/field"]
    assert "'contains'" in found["/rules/all/1/op"] and "number field 'age'" in found["/rules/all/1/op"]


@pytest.mark.parametrize(("rule", "path"), [
    # operator not valid for the field's type
    ({"field": "email", "op": "gt", "value": 1}, "/rules/op"),
    ({"field": "score", "op": "starts_with", "value": "1"}, "/rules/op"),
    ({"field": "subscribed", "op": "eq", "value": True}, "/rules/op"),
    ({"field": "created_at", "op": "gt", "value": "2025-01-01"}, "/rules/op"),
    ({"field": "tags", "op": "in", "value": ["a"]}, "/rules/op"),
    ({"field": "email", "op": "has_any", "value": ["a"]}, "/rules/op"),
    ({"field": "email", "op": "like", "value": "a"}, "/rules/op"),
    ({"field": "email", "op": 3, "value": "a"}, "/rules/op"),
    # values of the wrong type
    ({"field": "email", "op": "eq", "value": 3}, "/rules/value"),
    ({"field": "email", "op": "eq", "value": ["a"]}, "/rules/value"),
    ({"field": "score", "op": "eq", "value": "3"}, "/rules/value"),
    ({"field": "score", "op": "eq", "value": True}, "/rules/value"),
    ({"field": "score", "op": "eq", "value": float("inf")}, "/rules/value"),
    ({"field": "score", "op": "eq", "value": float("nan")}, "/rules/value"),
    ({"field": "score", "op": "in", "value": [1, "2"]}, "/rules/value/1"),
    ({"field": "score", "op": "in", "value": 1}, "/rules/value"),
    ({"field": "score", "op": "between", "value": [1]}, "/rules/value"),
    ({"field": "score", "op": "between", "value": [1, 2, 3]}, "/rules/value"),
    ({"field": "score", "op": "between", "value": [1, "2"]}, "/rules/value/1"),
    ({"field": "tags", "op": "has_all", "value": "vip"}, "/rules/value"),
    ({"field": "created_at", "op": "on", "value": "yesterday"}, "/rules/value"),
    ({"field": "created_at", "op": "on", "value": 20250101}, "/rules/value"),
    ({"field": "created_at", "op": "between", "value": ["2025-01-01", "soon"]}, "/rules/value/1"),
    ({"field": "created_at", "op": "within_last_days", "value": -1}, "/rules/value"),
    ({"field": "created_at", "op": "within_last_days", "value": 1.5}, "/rules/value"),
    ({"field": "created_at", "op": "within_last_days", "value": "7"}, "/rules/value"),
    ({"field": "created_at", "op": "within_last_days", "value": True}, "/rules/value"),
    # unary operators take no value; the others need one
    ({"field": "subscribed", "op": "is_true", "value": True}, "/rules/value"),
    ({"field": "email", "op": "is_empty", "value": ""}, "/rules/value"),
    ({"field": "email", "op": "eq"}, "/rules/value"),
    ({"field": "email", "op": "eq", "value": None}, "/rules/value"),
    ({"field": "created_at", "op": "within_next_days"}, "/rules/value"),
    # missing or extra keys, malformed forms
    ({"field": "email", "value": "a"}, "/rules/op"),
    ({"op": "eq", "value": "a", "field": "email", "event": "x"}, "/rules"),
    ({"all": []}, "/rules/all"),
    ({"any": []}, "/rules/any"),
    ({"all": {"field": "email", "op": "is_empty"}}, "/rules/all"),
    ({"not": []}, "/rules/not"),
    ({"all": [leaf()], "any": [leaf()]}, "/rules"),
    ({}, "/rules"),
    (None, "/rules"),
    ({"segment": ""}, "/rules/segment"),
    ({"segment": 5}, "/rules/segment"),
    ({"segment": "a", "field": "email"}, "/rules"),
    ({"not": leaf(), "extra": 1}, "/rules/extra"),
    # activity conditions
    ({"event": ""}, "/rules/event"),
    ({"event": 3}, "/rules/event"),
    ({"event": "x", "within_last_days": -1}, "/rules/within_last_days"),
    ({"event": "x", "where": {"field": "a", "op": "eq", "value": 1}}, "/rules/where"),
    ({"event": "x", "where": ["a"]}, "/rules/where/0"),
    ({"event": "x", "where": [{"field": "", "op": "eq", "value": 1}]}, "/rules/where/0/field"),
    ({"event": "x", "where": [{"field": "a", "op": "on", "value": "2025-01-01"}]}, "/rules/where/0/op"),
    ({"event": "x", "where": [{"field": "a", "op": "gt", "value": "5"}]}, "/rules/where/0/value"),
    ({"event": "x", "where": [{"field": "a", "op": "in", "value": [1, "b"]}]}, "/rules/where/0/value"),
    ({"event": "x", "where": [{"field": "a", "op": "in", "value": []}]}, "/rules/where/0/value"),
    ({"event": "x", "where": [{"field": "a", "op": "between", "value": [3, 2]}]}, "/rules/where/0/value"),
    ({"event": "x", "where": [{"field": "a", "op": "is_empty", "value": "x"}]}, "/rules/where/0/value"),
    ({"event": "x", "where": [{"field": "a", "op": "eq", "value": "x", "why": 1}]}, "/rules/where/0/why"),
    ({"event": "x", "aggregate": {"fn": "median", "field": "a"}}, "/rules/aggregate/fn"),
    ({"event": "x", "aggregate": {"fn": "sum"}}, "/rules/aggregate/field"),
    ({"event": "x", "aggregate": {"fn": "avg", "field": ""}}, "/rules/aggregate/field"),
    ({"event": "x", "aggregate": {"fn": "count", "field": "a"}}, "/rules/aggregate/field"),
    ({"event": "x", "aggregate": {"fn": "last_at", "field": "a", "op": "is_empty"}}, "/rules/aggregate/field"),
    ({"event": "x", "aggregate": {"fn": "last_at", "op": "gt", "value": 3}}, "/rules/aggregate/op"),
    ({"event": "x", "aggregate": {"fn": "avg", "field": "a", "op": "within_last_days", "value": 3}},
     "/rules/aggregate/op"),
    ({"event": "x", "aggregate": {"fn": "count", "op": "gte", "value": "1"}}, "/rules/aggregate/value"),
    ({"event": "x", "aggregate": {"fn": "count", "op": "between", "value": [2, 1]}}, "/rules/aggregate/value"),
    ({"event": "x", "aggregate": {"fn": "count", "op": "is_empty", "value": 1}}, "/rules/aggregate/value"),
    ({"event": "x", "aggregate": {"fn": "count", "op": "gte", "value": 1, "extra": 2}}, "/rules/aggregate/extra"),
    ({"event": "x", "aggregate": []}, "/rules/aggregate"),
    ({"event": "x", "when": 1}, "/rules/when"),
])
def test_invalid_rule_is_rejected_at_its_node(rule, path):
    assert paths(rule) == [path]


@pytest.mark.parametrize(("value", "ok"), [
    ([1, 2], True), ([2, 2], True), ([-3.5, -3.5], True), ([2, 1], False), ([0.0000001, 0], False),
])
def test_number_between_takes_low_then_high(value, ok):
    rule = {"field": "score", "op": "between", "value": value}
    if ok:
        parse_rule(rule, CATALOG)
    else:
        assert errors(rule) == [("/rules/value", "low must not be greater than high")]


@pytest.mark.parametrize(("field", "value", "ok"), [
    ("created_at", ["2025-01-01", "2025-01-01"], True),
    ("created_at", ["2025-01-01", "2025-01-02"], True),
    ("created_at", ["2025-01-02", "2025-01-01"], False),
    ("created_at", ["2025-01-01T10:00:00Z", "2025-01-01T10:00:00Z"], True),
    ("created_at", ["2025-01-01T10:00:01Z", "2025-01-01T10:00:00Z"], False),
    ("created_at", ["2025-01-01T12:00:00+02:00", "2025-01-01T10:30:00Z"], True),  # 10:00Z <= 10:30Z
    ("created_at", ["2025-01-01T10:00:00-02:00", "2025-01-01T11:00:00Z"], False),  # 12:00Z > 11:00Z
    ("created_at", ["2025-01-02", "2025-01-01T23:00:00Z"], False),
    ("expected_purchase_date", ["2025-03-01", "2025-02-28"], False),
    ("expected_purchase_date", ["2024-02-29", "2024-03-01"], True),
])
def test_date_between_takes_the_earlier_bound_first(field, value, ok):
    rule = {"field": field, "op": "between", "value": value}
    if ok:
        parse_rule(rule, CATALOG)
    else:
        assert errors(rule) == [("/rules/value", "low must not be later than high")]


@pytest.mark.parametrize("op", ["in", "not_in"])
@pytest.mark.parametrize("field", ["email", "score"])
def test_in_and_not_in_take_a_non_empty_list(op, field):
    assert errors({"field": field, "op": op, "value": []}) == [("/rules/value", "a non-empty list")]


@pytest.mark.parametrize("op", ["has_any", "has_all", "has_none"])
def test_list_operators_take_a_non_empty_list(op):
    assert errors({"field": "tags", "op": op, "value": []}) == [("/rules/value", "a non-empty list")]


# -- limits ---------------------------------------------------------------------------------------

def nested(depth: int) -> dict:
    """A rule `depth` levels deep: depth-1 alternating groups/nots around one condition."""
    rule: dict = leaf()
    for level in range(depth - 1):
        rule = {"not": rule} if level % 2 else {"all": [rule]}
    return rule


def test_rules_nest_six_levels_deep_not_seven():
    parse_rule(nested(6), CATALOG)
    [(path, message)] = errors(nested(7))
    assert path == "/rules/not/all/0/not/all/0/not/all/0"
    assert "at most 6 levels" in message


def test_the_depth_limit_counts_nots_and_groups_alike():
    parse_rule({"not": {"not": {"not": {"not": {"not": leaf()}}}}}, CATALOG)
    assert paths({"not": {"not": {"not": {"not": {"not": {"not": leaf()}}}}}}) == ["/rules/not/not/not/not/not/not"]
    parse_rule({"any": [{"any": [{"any": [{"any": [{"any": [leaf()]}]}]}]}]}, CATALOG)


def test_a_rule_holds_at_most_one_hundred_conditions():
    parse_rule({"all": [leaf(i) for i in range(100)]}, CATALOG)
    assert errors({"all": [leaf(i) for i in range(101)]}) == [("/rules/all/100", "a rule has at most 100 conditions")]


def test_where_conditions_count_towards_the_hundred():
    where = [{"field": "p", "op": "eq", "value": str(i)} for i in range(99)]
    parse_rule({"event": "e", "where": where}, CATALOG)  # 1 + 99
    assert paths({"all": [{"event": "e", "where": where}, leaf()]}) == ["/rules/all/1"]
    long_where = [{"field": "p", "op": "eq", "value": str(i)} for i in range(101)]
    assert paths({"event": "e", "where": long_where}) == ["/rules/where/99"]


def test_segments_and_events_count_as_conditions():
    parse_rule({"any": [{"segment": f"s{i}"} for i in range(50)] + [{"event": f"e{i}"} for i in range(50)]},
               CATALOG)
    assert paths({"any": [{"segment": f"s{i}"} for i in range(50)] + [{"event": f"e{i}"} for i in range(51)]}) == \
        ["/rules/any/100"]


@pytest.mark.parametrize(("size", "ok"), [(1000, True), (1001, False)])
def test_strings_hold_at_most_a_thousand_characters(size, ok):
    text = "x" * size
    rules = [
        ({"field": "email", "op": "contains", "value": text}, "/rules/value"),
        ({"field": "email", "op": "in", "value": ["a", text]}, "/rules/value/1"),
        ({"field": "tags", "op": "has_any", "value": [text]}, "/rules/value/0"),
        ({"event": text}, "/rules/event"),
        ({"segment": text}, "/rules/segment"),
        ({"event": "e", "where": [{"field": "p", "op": "eq", "value": text}]}, "/rules/where/0/value"),
        ({"event": "e", "where": [{"field": text, "op": "is_empty"}]}, "/rules/where/0/field"),
        ({"event": "e", "aggregate": {"fn": "sum", "field": text}}, "/rules/aggregate/field"),
    ]
    for rule, path in rules:
        if ok:
            parse_rule(rule, CATALOG)
        else:
            assert paths(rule) == [path], rule


@pytest.mark.parametrize(("size", "ok"), [(1000, True), (1001, False)])
def test_lists_hold_at_most_a_thousand_items(size, ok):
    for rule in ({"field": "email", "op": "in", "value": [f"v{i}" for i in range(size)]},
                 {"field": "score", "op": "not_in", "value": list(range(size))},
                 {"field": "tags", "op": "has_none", "value": [f"t{i}" for i in range(size)]},
                 {"event": "e", "where": [{"field": "p", "op": "in", "value": list(range(size))}]}):
        if ok:
            parse_rule(rule, CATALOG)
        else:
            [(path, message)] = errors(rule)
            assert path.endswith("/value") and "at most 1000 items" in message


# -- regular expressions ------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern", [
    "abc", "(?i)abc", "^a.*z$", r"\d{3}-\d{4}", "(?P<user>[^@]+)@", "a|b|c", r"\bword\b",
    "(?:ab)+?", "é+", "",
])
def test_patterns_both_engines_read_are_accepted(pattern):
    parse_rule({"field": "email", "op": "matches", "value": pattern}, CATALOG)
    parse_rule({"event": "e", "where": [{"field": "p", "op": "matches", "value": pattern}]}, CATALOG)


@pytest.mark.parametrize(("pattern", "why"), [
    ("(?<=a)b", "outside the subset"),  # lookbehind: Python only
    ("(?<!a)b", "outside the subset"),
    ("a(?=b)", "outside the subset"),  # lookahead
    (r"(a)\1", "outside the subset"),  # backreference
    (r"(?P<x>a)(?P=x)", "outside the subset"),
    ("a++", "outside the subset"),  # possessive: Python 3.11 only
    ("[[:alpha:]]+", "ambiguous"),  # a POSIX class to RE2, a nested set warning to Python
    ("(", "not a valid"),
    ("[a", "not a valid"),
    (r"\z", "not a valid"),  # RE2's end of text, unknown to Python 3.11
    (r"a\Z", "outside the subset"),  # Python's end of text, unknown to RE2
])
def test_patterns_outside_the_shared_subset_are_rejected(pattern, why):
    for rule, path in (({"field": "email", "op": "matches", "value": pattern}, "/rules/value"),
                       ({"event": "e", "where": [{"field": "p", "op": "matches", "value": pattern}]},
                        "/rules/where/0/value")):
        [(found, message)] = errors(rule)
        assert found == path and why in message


# -- references, cycles and order -----------------------------------------------------------------

def test_references_are_checked_with_the_callers_resolver():
    known = {"a", "b"}.__contains__
    parse_rule({"any": [{"segment": "a"}, {"not": {"segment": "b"}}]}, CATALOG, segment_exists=known)
    assert paths({"all": [{"segment": "a"}, {"segment": "zz"}, {"not": {"segment": "yy"}}]}, segment_exists=known) \
        == ["/rules/all/1/segment", "/rules/all/2/not/segment"]
    parse_rule({"segment": "zz"}, CATALOG)  # without a resolver any id is accepted


def parsed(rule):
    return parse_rule(rule, CATALOG)


def test_referenced_segments_are_found_at_any_depth():
    rule = parsed({"all": [{"segment": "a"}, {"not": {"any": [{"segment": "b"}, leaf(), {"segment": "a"}]}}]})
    assert referenced_segments(rule) == {"a", "b"}
    assert referenced_segments(parsed(leaf())) == set()


def test_find_cycle_names_the_path_a_save_would_close():
    stored = {"b": parsed({"segment": "c"}), "c": parsed({"all": [leaf(), {"segment": "a"}]}),
              "d": parsed(leaf())}
    assert find_cycle("a", parsed({"any": [{"segment": "d"}, {"segment": "b"}]}), stored.get) == ["a", "b", "c", "a"]
    assert find_cycle("a", parsed({"segment": "a"}), stored.get) == ["a", "a"]
    assert find_cycle("a", parsed({"segment": "d"}), stored.get) is None
    assert find_cycle("a", parsed({"segment": "missing"}), stored.get) is None
    # a loop already stored among other segments is reported too (saving onto it is refused)
    loop = {"x": parsed({"segment": "y"}), "y": parsed({"segment": "x"})}
    found = find_cycle("a", parsed({"segment": "x"}), loop.get)
    assert found is not None and found[-1] in found[:-1]


def test_dependency_order_puts_referenced_segments_first():
    rules = {
        "top": parsed({"all": [{"segment": "mid"}, {"segment": "base"}]}),
        "mid": parsed({"not": {"segment": "base"}}),
        "base": parsed(leaf()),
        "outside": parsed({"segment": "not_in_this_run"}),
    }
    order = dependency_order(rules)
    assert sorted(order) == sorted(rules)
    assert order.index("base") < order.index("mid") < order.index("top")


def test_dependency_order_refuses_a_cycle():
    with pytest.raises(ValueError, match="cycle"):
        dependency_order({"a": parsed({"segment": "b"}), "b": parsed({"segment": "a"})})


# -- canonical JSON ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", example_rules())
def test_rule_to_json_round_trips(rule):
    once = parse_rule(rule, CATALOG)
    assert parse_rule(rule_to_json(once), CATALOG) == once
    assert rule_to_json(parse_rule(rule_to_json(once), CATALOG)) == rule_to_json(once)


def test_the_default_aggregate_is_written_out():
    assert rule_to_json(parsed({"event": "open"})) == {"event": "open",
                                                       "aggregate": {"fn": "count", "op": "gte", "value": 1}}
    assert rule_to_json(parsed({"event": "open", "aggregate": {"value": 3}})) == \
        {"event": "open", "aggregate": {"fn": "count", "op": "gte", "value": 3}}
