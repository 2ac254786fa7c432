"""Every operator of the string, number, boolean and list types at its boundaries, on every kind of
empty value (None, missing key, "", NaN, [], [None]) and on case variants — each case through both
evaluators, with `not` checked to be the exact complement."""

from __future__ import annotations

import pytest
from agreement import MISSING, both

NAN = float("nan")
STRING_EMPTIES = [("", False), (None, False), (MISSING, False)]


def _case(field, op, value, rows):
    rule = {"field": field, "op": op} if value is _UNARY else {"field": field, "op": op, "value": value}
    # no object address in ids: pytest-xdist workers must collect the same ids (`make test` runs -n 2)
    return pytest.param(rule, rows, id=(f"{field}-{op}" + ("" if value is _UNARY else f"-{value!r}"))[:80])


_UNARY = object()

STRING_CASES = [
    _case("nickname", "eq", "Anna", [("Anna", True), ("anna", True), ("ANNA", True), ("aNnA", True), ("Ann", False),
                                     ("Annas", False), (" Anna", False), ("Anna ", False), *STRING_EMPTIES]),
    _case("email", "eq", "Ann@Example.com", [("ann@example.com", True), ("ANN@EXAMPLE.COM", True),
                                             ("ann@example.co", False), *STRING_EMPTIES]),
    _case("nickname", "neq", "Anna", [("Anna", False), ("ANNA", False), ("Ann", True), ("", True), (None, True),
                                      (MISSING, True)]),
    # "" as a literal: an empty value is empty, so it never equals "" (positive) and always passes neq.
    _case("nickname", "eq", "", [("x", False), ("", False), (None, False), (MISSING, False)]),
    _case("nickname", "neq", "", [("x", True), ("", True), (None, True), (MISSING, True)]),
    _case("nickname", "in", ["Anna", "BEN"], [("anna", True), ("ben", True), ("BEN", True), ("Ben ", False),
                                              ("Benjamin", False), *STRING_EMPTIES]),
    _case("nickname", "not_in", ["Anna", "BEN"], [("anna", False), ("Ben", False), ("Benjamin", True), ("", True),
                                                  (None, True), (MISSING, True)]),
    _case("nickname", "contains", "nN", [("Anna", True), ("ANNA", True), ("nn", True), ("n", False),
                                         ("an na", False), *STRING_EMPTIES]),
    _case("nickname", "contains", "", [("x", True), *STRING_EMPTIES]),
    _case("nickname", "not_contains", "nN", [("Anna", False), ("n", True), ("", True), (None, True),
                                             (MISSING, True)]),
    _case("nickname", "starts_with", "an", [("Anna", True), ("AN", True), ("an", True), ("a", False),
                                            ("Ban", False), (" an", False), *STRING_EMPTIES]),
    _case("nickname", "ends_with", "NA", [("anna", True), ("na", True), ("Na", True), ("a", False),
                                          ("nab", False), *STRING_EMPTIES]),
    # matches: searched anywhere, case-sensitive unless the pattern starts with (?i)
    _case("nickname", "matches", "nn", [("Anna", True), ("ANNA", False), ("n", False), *STRING_EMPTIES]),
    _case("nickname", "matches", "^An+a$", [("Anna", True), ("Annna", True), ("anna", False), ("xAnna", False),
                                            *STRING_EMPTIES]),
    _case("nickname", "matches", "(?i)^an+a$", [("Anna", True), ("ANNA", True), ("xanna", False),
                                                *STRING_EMPTIES]),
    _case("email", "matches", r"@(gmail|yahoo)\.com$", [("a@gmail.com", True), ("a@yahoo.com", True),
                                                        ("a@GMAIL.com", False), ("a@gmail.com.au", False),
                                                        *STRING_EMPTIES]),
    _case("nickname", "matches", "[éë]", [("Zoë", True), ("Élodie", False), ("élodie", True), ("zoe", False)]),
    # an empty-matching pattern still fails on empty values (they are empty, not "")
    _case("nickname", "matches", "x*", [("abc", True), *STRING_EMPTIES]),
    _case("nickname", "is_empty", _UNARY, [("", True), (None, True), (MISSING, True), (" ", False), ("x", False)]),
    _case("nickname", "is_not_empty", _UNARY, [("", False), (None, False), (MISSING, False), (" ", True),
                                               ("x", True)]),
    # Case folding beyond ASCII: per code point, the same in both evaluators.
    _case("city", "eq", "MÜNCHEN", [("münchen", True), ("München", True), ("munchen", False)]),
    _case("city", "eq", "ÉVRY", [("évry", True), ("Évry", True), ("evry", False)]),
    # per code point, not full case folding: Σ lowers to σ everywhere, so a final ς is another letter
    _case("city", "eq", "ΟΔΟΣ", [("οδοσ", True), ("ΟΔΟΣ", True), ("Οδος", False)]),
    _case("city", "contains", "σ", [("ΟΔΟΣ", True), ("οδος", False), ("ΑΒΓ", False)]),
    _case("city", "eq", "istanbul", [("İstanbul", True), ("ISTANBUL", True), ("Istanbul", True)]),
    _case("city", "starts_with", "İs", [("istanbul", True), ("İSTANBUL", True), ("ıstanbul", False)]),
    _case("city", "in", ["STRASSE"], [("strasse", True), ("Straße", False)]),
]

NUMBER_CASES = [
    _case("score", "eq", 10, [(10, True), (10.0, True), (10.5, False), (-10, False), (0, False), (None, False),
                              (MISSING, False), (NAN, False)]),
    _case("score", "eq", 0, [(0, True), (0.0, True), (-0.0, True), (None, False), (NAN, False)]),
    _case("score", "eq", 2.5, [(2.5, True), (2.4999999, False)]),
    _case("score", "eq", 9007199254740993, [(9007199254740992, True)]),  # both compare as float64
    _case("score", "neq", 10, [(10, False), (10.5, True), (None, True), (MISSING, True), (NAN, True)]),
    _case("score", "gt", 10, [(10, False), (10.000001, True), (9.999999, False), (1e300, True), (None, False),
                              (NAN, False)]),
    _case("score", "gte", 10, [(10, True), (9.999999, False), (11, True), (None, False), (MISSING, False)]),
    _case("score", "lt", 10, [(10, False), (9.999999, True), (-1e300, True), (None, False), (NAN, False)]),
    _case("score", "lte", 10, [(10, True), (10.000001, False), (0, True), (None, False)]),
    _case("score", "gte", -5, [(-5, True), (-5.5, False), (0, True), (None, False)]),
    _case("score", "lt", 0, [(0, False), (-0.0, False), (-0.5, True), (None, False)]),
    _case("score", "between", [1, 3], [(1, True), (3, True), (2, True), (0.999999, False), (3.000001, False),
                                       (None, False), (NAN, False), (MISSING, False)]),
    _case("score", "between", [2, 2], [(2, True), (2.0000001, False), (1.9999999, False)]),
    _case("score", "between", [-1.5, 0], [(-1.5, True), (-0.0, True), (0, True), (0.1, False)]),
    _case("ltv", "in", [1, 2.5], [(1, True), (1.0, True), (2.5, True), (2, False), (None, False), (NAN, False),
                                  (MISSING, False)]),
    _case("ltv", "in", [0], [(0, True), (-0.0, True), (0.0001, False)]),
    _case("ltv", "in", [-0.0], [(0, True), (-0.0, True)]),
    _case("ltv", "not_in", [1, 2.5], [(1, False), (2.5, False), (2, True), (None, True), (NAN, True),
                                      (MISSING, True)]),
    _case("ltv", "not_in", [0], [(-0.0, False), (0, False), (1, True)]),
    _case("score", "is_empty", _UNARY, [(0, False), (-1, False), (None, True), (MISSING, True), (NAN, True)]),
    _case("score", "is_not_empty", _UNARY, [(0, True), (None, False), (MISSING, False), (NAN, False)]),
]

BOOLEAN_CASES = [
    _case("subscribed", "is_true", _UNARY, [(True, True), (False, False), (None, False), (MISSING, False)]),
    _case("subscribed", "is_false", _UNARY, [(True, False), (False, True), (None, False), (MISSING, False)]),
    _case("vip", "is_empty", _UNARY, [(True, False), (False, False), (None, True), (MISSING, True)]),
    _case("vip", "is_not_empty", _UNARY, [(True, True), (False, True), (None, False), (MISSING, False)]),
]

LIST_EMPTIES = [([], False), (None, False), (MISSING, False)]

LIST_CASES = [
    _case("tags", "has_any", ["VIP", "trial"], [(["vip"], True), (["Trial", "x"], True), (["TRIAL"], True),
                                                (["x"], False), (["vi"], False), (["vip", "vip"], True),
                                                ([None], False), ([""], False), ([None, "vip"], True),
                                                *LIST_EMPTIES]),
    _case("tags", "has_any", [""], [([""], True), (["x"], False), ([None], False), *LIST_EMPTIES]),
    _case("tags", "has_all", ["vip", "trial"], [(["VIP", "TRIAL"], True), (["trial", "x", "vip"], True),
                                                (["vip"], False), (["vip", "vip"], False), ([None], False),
                                                ([None, "vip", "trial"], True), *LIST_EMPTIES]),
    _case("tags", "has_all", ["vip", "VIP"], [(["vip"], True), (["Vip", "x"], True), (["x"], False)]),
    _case("interests", "has_none", ["vip"], [(["x"], True), (["Vip"], False), (["x", "VIP"], False), ([], True),
                                             (None, True), (MISSING, True), ([None], True), ([""], True)]),
    # [] and null are empty; a list that holds items (even null or "") is not.
    _case("tags", "is_empty", _UNARY, [([], True), (None, True), (MISSING, True), ([None], False), ([""], False),
                                       (["x"], False)]),
    _case("interests", "is_not_empty", _UNARY, [([], False), (None, False), (MISSING, False), ([None], True),
                                                (["x"], True)]),
    _case("tags", "has_any", ["Straße", "ΟΔΟΣ"], [(["STRAßE"], True), (["οδοσ"], True), (["strasse"], False)]),
]


@pytest.mark.parametrize(("rule", "rows"), STRING_CASES + NUMBER_CASES + BOOLEAN_CASES + LIST_CASES)
def test_operator_gives_the_same_answer_in_both_evaluators(rule, rows):
    values = [value for value, _ in rows]
    expected = [answer for _, answer in rows]
    assert both(rule, values, field=rule["field"]) == expected


def test_every_field_operator_is_covered_by_the_table():
    from agreement import CATALOG
    from audience.fields import FieldType
    from audience.rules.operators import OPERATORS
    from test_agreement_dates import DATE_CASES

    covered = {(CATALOG.type_of(p.values[0]["field"]), p.values[0]["op"])
               for p in STRING_CASES + NUMBER_CASES + BOOLEAN_CASES + LIST_CASES + DATE_CASES}
    wanted = {(field_type, op) for field_type, ops in OPERATORS.items() for op in ops}
    assert wanted - covered == set()
    assert {t for t, _ in covered} == set(FieldType)
