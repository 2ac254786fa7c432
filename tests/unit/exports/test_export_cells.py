import pytest
from audience.exports.cells import as_text, neutralise_formula
from audience.fields import FieldType


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+49151", "'+49151"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1", "'\r=1"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_formula_triggers_get_a_leading_quote(text, expected):
    assert neutralise_formula(text) == expected


def test_text_of_values_by_type():
    assert as_text(3.0, FieldType.NUMBER) == "3"
    assert as_text(2.5, FieldType.NUMBER) == "2.5"
    assert as_text(True, FieldType.BOOLEAN) == "true"
    assert as_text(["a", "b"], FieldType.LIST) == "a, b"
    assert as_text(None, FieldType.STRING) == ""
    assert as_text([], FieldType.LIST) == ""
