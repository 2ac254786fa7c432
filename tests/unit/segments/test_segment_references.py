"""Finding segment references inside rules and reference cycles across segments."""

from audience.segments.references import find_cycle, segment_references


def test_references_are_found_at_any_depth_with_their_json_pointer():
    rule = {
        "all": [
            {"segment": "a"},
            {"not": {"any": [{"field": "age", "op": "gt", "value": 3}, {"segment": "b"}]}},
        ]
    }
    assert list(segment_references(rule)) == [
        ("a", "/rules/all/0/segment"),
        ("b", "/rules/all/1/not/any/1/segment"),
    ]


def test_field_values_named_segment_are_not_references():
    rule = {"field": "segment", "op": "eq", "value": "x"}
    assert list(segment_references(rule)) == []


def test_cycle_through_other_segments_is_reported_as_a_path():
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert find_cycle(graph, "a") == ["a", "b", "c", "a"]
    assert find_cycle(graph, "d") is None


def test_self_reference_is_a_cycle_and_diamonds_are_not():
    assert find_cycle({"a": ["a"]}, "a") == ["a", "a"]
    assert find_cycle({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}, "a") is None
