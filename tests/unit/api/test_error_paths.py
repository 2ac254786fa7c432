"""The documented path convention for ``details[].path`` (docs/api.md)."""

from __future__ import annotations

import pytest

from functions.api.errors import json_pointer, loc_to_path, pydantic_details


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "rules", "all", 1, "value"), "/rules/all/1/value"),
        (("body",), "/"),
        (("body", "a/b", "c~d"), "/a~1b/c~0d"),
        (("query", "limit"), "?limit"),
        (("path", "segment_id"), "{segment_id}"),
        (("header", "If-Match"), "If-Match"),
        (("body", "segment_ids", "list[str]", 2), "/segment_ids/2"),
        (("body", "rules", "function-after[check(), dict[str,any]]", "field"), "/rules/field"),
        ((), "/"),
    ],
)
def test_locations_become_documented_paths(loc, path):
    assert loc_to_path(loc) == path


def test_json_pointer_of_the_root_is_a_slash():
    assert json_pointer(()) == "/"
    assert json_pointer(("x", 0)) == "/x/0"


def test_pydantic_errors_keep_their_message_and_say_required_and_unknown_plainly():
    details = pydantic_details(
        [
            {"loc": ("name",), "type": "missing", "msg": "Field required"},
            {"loc": ("extra",), "type": "extra_forbidden", "msg": "Extra inputs are not permitted"},
            {"loc": ("age",), "type": "value_error", "msg": "Value error, too old"},
        ]
    )
    assert details == [
        {"path": "/name", "message": "required"},
        {"path": "/extra", "message": "unknown field"},
        {"path": "/age", "message": "too old"},
    ]
