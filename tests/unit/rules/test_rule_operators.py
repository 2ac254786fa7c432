"""Every operator of SPEC §2 at its boundaries and on empty values, through both evaluators.

Each row: a condition, then (stored value, expected match) pairs. MISSING means the contact has no
such key at all; None is an explicit null. Empty values fail every positive operator and pass every
negative one (neq, not_in, not_contains, has_none).
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from agreement import CATALOG, MISSING, day, utc
from agreement import both as agreeing

AS_OF = utc(2024, 6, 15, 12, 0)  # the table's dates are written around this instant
US = timedelta(microseconds=1)
EMPTY_STRINGS = [(None, False), (MISSING, False), ("", False)]
EMPTY_STRINGS_NEG = [(None, True), (MISSING, True), ("", True)]
EMPTY_NUMBERS = [(None, False), (MISSING, False), (math.nan, False)]
EMPTY_NUMBERS_NEG = [(None, True), (MISSING, True), (math.nan, True)]
EMPTY = [(None, False), (MISSING, False)]
EMPTY_LISTS = [(None, False), (MISSING, False), ([], False)]
EMPTY_LISTS_NEG = [(None, True), (MISSING, True), ([], True)]

WEEK_AGO = AS_OF - timedelta(days=7)
IN_A_WEEK = AS_OF + timedelta(days=7)


def both(rule, values=None, *, as_of=AS_OF, **kwargs):
    """The harness' `both`, at this table's instant unless told."""
    return agreeing(rule, values, as_of=as_of, **kwargs)

TABLE = [
    # ---- string ------------------------------------------------------------------------------
    ("city", "eq", "Paris", [("Paris", True), ("paris", True), ("PARIS", True), ("Paris ", False),
                             ("Pari", False), ("Lyon", False), *EMPTY_STRINGS]),
    ("city", "eq", "ÉCOLE", [("école", True), ("Ecole", False)]),
    ("city", "eq", "istanbul", [("İSTANBUL", True), ("Istanbul", True)]),
    ("city", "eq", "οδοσ", [("ΟΔΟΣ", True), ("οδος", False)]),
    ("city", "eq", "straße", [("STRAẞE", True), ("STRASSE", False)]),
    ("city", "neq", "Paris", [("Paris", False), ("pARIS", False), ("Lyon", True), *EMPTY_STRINGS_NEG]),
    ("city", "in", ["Paris", "LYON"], [("lyon", True), ("PARIS", True), ("Nice", False), *EMPTY_STRINGS]),
    ("city", "not_in", ["Paris", "LYON"], [("lyon", False), ("Nice", True), *EMPTY_STRINGS_NEG]),
    ("city", "contains", "AR", [("Paris", True), ("arles", True), ("Nice", False), ("a r", False), *EMPTY_STRINGS]),
    ("city", "contains", "", [("x", True), *EMPTY_STRINGS]),
    ("city", "not_contains", "ar", [("PARIS", False), ("Nice", True), *EMPTY_STRINGS_NEG]),
    ("city", "starts_with", "pa", [("Paris", True), ("PArme", True), ("Spa", False), ("p", False), *EMPTY_STRINGS]),
    ("city", "ends_with", "IS", [("Paris", True), ("tunis", True), ("Isle", False), *EMPTY_STRINGS]),
    ("city", "matches", "^P.r", [("Paris", True), ("paris", False), ("xPar", False), *EMPTY_STRINGS]),
    ("city", "matches", "(?i)^p.r", [("paris", True), ("PARIS", True), ("Lyon", False), *EMPTY_STRINGS]),
    ("city", "matches", "r", [("Paris", True), ("Lyon", False)]),
    ("city", "matches", "s$", [("Paris", True), ("Paris\n", False), ("Parisx", False)]),
    ("city", "matches", "^$", [("", False), (None, False)]),
    ("city", "is_empty", None, [("", True), (None, True), (MISSING, True), (" ", False), ("x", False)]),
    ("city", "is_not_empty", None, [("", False), (None, False), (MISSING, False), (" ", True), ("x", True)]),
    ("plan", "eq", "Pro", [("pro", True), ("basic", False), *EMPTY_STRINGS]),
    # ---- number ------------------------------------------------------------------------------
    ("score", "eq", 10, [(10, True), (10.0, True), (10.5, False), (-10, False), *EMPTY_NUMBERS]),
    ("score", "eq", 0, [(0.0, True), (-0.0, True), *EMPTY_NUMBERS]),
    ("score", "neq", 10, [(10, False), (11, True), (0, True), *EMPTY_NUMBERS_NEG]),
    ("score", "gt", 10, [(10, False), (10.000001, True), (9, False), (math.inf, True), *EMPTY_NUMBERS]),
    ("score", "gte", 10, [(10, True), (9.99, False), (11, True), *EMPTY_NUMBERS]),
    ("score", "lt", -2.5, [(-2.5, False), (-2.6, True), (0, False), (-math.inf, True), *EMPTY_NUMBERS]),
    ("score", "lte", 10, [(10, True), (10.01, False), (-1, True), *EMPTY_NUMBERS]),
    ("score", "between", [10, 20], [(10, True), (20, True), (15, True), (9.99, False), (20.01, False),
                                    *EMPTY_NUMBERS]),
    ("score", "between", [5, 5], [(5, True), (5.0000001, False), (4.9999999, False)]),
    ("score", "in", [1, 2.5], [(1.0, True), (2.5, True), (3, False), (2, False), *EMPTY_NUMBERS]),
    ("score", "in", [0], [(-0.0, True), (0.0, True), (1, False)]),
    ("score", "not_in", [1, 2.5], [(1, False), (2.5, False), (3, True), *EMPTY_NUMBERS_NEG]),
    ("score", "not_in", [-0.0], [(0.0, False), (-0.0, False), (1, True)]),
    ("score", "eq", 2**53 + 1, [(float(2**53), True), (float(2**53 + 2), False)]),
    ("score", "is_empty", None, [(None, True), (MISSING, True), (math.nan, True), (0, False), (-1, False)]),
    ("score", "is_not_empty", None, [(None, False), (MISSING, False), (math.nan, False), (0, True)]),
    ("ltv", "gte", 100, [(100, True), (99.5, False), *EMPTY_NUMBERS]),
    # ---- boolean -----------------------------------------------------------------------------
    ("subscribed", "is_true", None, [(True, True), (False, False), *EMPTY]),
    ("subscribed", "is_false", None, [(False, True), (True, False), *EMPTY]),
    ("subscribed", "is_empty", None, [(None, True), (MISSING, True), (False, False), (True, False)]),
    ("subscribed", "is_not_empty", None, [(None, False), (MISSING, False), (False, True), (True, True)]),
    ("vip", "is_true", None, [(True, True), (False, False), *EMPTY]),
    # ---- datetime (as_of = 2024-06-15T12:00Z) -------------------------------------------------
    ("last_clicked_at", "within_last_days", 7, [(WEEK_AGO, True), (WEEK_AGO - US, False), (AS_OF, True),
                                                (AS_OF + US, False), (utc(2024, 6, 10), True), *EMPTY]),
    ("last_clicked_at", "within_last_days", 0, [(AS_OF, True), (AS_OF - US, False), (AS_OF + US, False)]),
    ("last_clicked_at", "more_than_days_ago", 7, [(WEEK_AGO - US, True), (WEEK_AGO, False), (AS_OF, False),
                                                  (utc(2000, 1, 1), True), *EMPTY]),
    ("last_clicked_at", "within_next_days", 7, [(AS_OF, True), (AS_OF - US, False), (IN_A_WEEK, True),
                                                (IN_A_WEEK + US, False), *EMPTY]),
    ("last_clicked_at", "on", "2024-06-15", [(utc(2024, 6, 15), True), (utc(2024, 6, 16) - US, True),
                                             (utc(2024, 6, 15) - US, False), (utc(2024, 6, 16), False), *EMPTY]),
    # 22:00 at UTC-5 is 03:00Z on the 16th: `on` compares UTC calendar dates.
    ("last_clicked_at", "on", "2024-06-15T22:00:00-05:00", [(utc(2024, 6, 16, 10), True),
                                                           (utc(2024, 6, 15, 12), False)]),
    ("last_clicked_at", "before", "2024-06-15", [(utc(2024, 6, 15) - US, True), (utc(2024, 6, 15), False),
                                                 (utc(2024, 6, 15, 23), False), *EMPTY]),
    ("last_clicked_at", "before", "2024-06-15T12:00:00Z", [(AS_OF - US, True), (AS_OF, False), *EMPTY]),
    ("last_clicked_at", "after", "2024-06-15", [(utc(2024, 6, 15, 23, 59), False), (utc(2024, 6, 16), True),
                                                *EMPTY]),
    ("last_clicked_at", "after", "2024-06-15T14:00:00+02:00", [(AS_OF + US, True), (AS_OF, False), *EMPTY]),
    ("last_clicked_at", "after", "2024-06-15T12:00:00", [(AS_OF + US, True), (AS_OF, False)]),
    ("last_clicked_at", "between", ["2024-06-01", "2024-06-15"], [
        (utc(2024, 6, 1), True), (utc(2024, 6, 1) - US, False), (utc(2024, 6, 16) - US, True),
        (utc(2024, 6, 16), False), *EMPTY]),
    ("last_clicked_at", "between", ["2024-06-01T00:00:00Z", "2024-06-15T12:00:00Z"], [
        (AS_OF, True), (AS_OF + US, False), (utc(2024, 6, 1), True), (utc(2024, 6, 1) - US, False)]),
    ("last_clicked_at", "is_empty", None, [(None, True), (MISSING, True), (AS_OF, False)]),
    ("last_clicked_at", "is_not_empty", None, [(None, False), (MISSING, False), (AS_OF, True)]),
    ("last_seen", "within_last_days", 1, [(AS_OF - timedelta(days=1), True), (AS_OF - timedelta(days=1) - US, False)]),
    # ---- date (today = 2024-06-15, the UTC date of as_of) -------------------------------------
    ("expected_purchase_date", "within_last_days", 7, [(day("2024-06-08"), True), (day("2024-06-07"), False),
                                                       (day("2024-06-15"), True), (day("2024-06-16"), False),
                                                       *EMPTY]),
    ("expected_purchase_date", "within_last_days", 0, [(day("2024-06-15"), True), (day("2024-06-14"), False)]),
    ("expected_purchase_date", "more_than_days_ago", 7, [(day("2024-06-07"), True), (day("2024-06-08"), False),
                                                         *EMPTY]),
    ("expected_purchase_date", "within_next_days", 7, [(day("2024-06-15"), True), (day("2024-06-14"), False),
                                                       (day("2024-06-22"), True), (day("2024-06-23"), False),
                                                       *EMPTY]),
    ("expected_purchase_date", "on", "2024-06-15", [(day("2024-06-15"), True), (day("2024-06-14"), False),
                                                    *EMPTY]),
    ("expected_purchase_date", "on", "2024-06-15T23:00:00-03:00", [(day("2024-06-16"), True),
                                                                   (day("2024-06-15"), False)]),
    ("expected_purchase_date", "before", "2024-06-15T12:00:00Z", [(day("2024-06-14"), True),
                                                                  (day("2024-06-15"), False), *EMPTY]),
    ("expected_purchase_date", "after", "2024-06-15", [(day("2024-06-16"), True), (day("2024-06-15"), False),
                                                       *EMPTY]),
    ("expected_purchase_date", "between", ["2024-06-01", "2024-06-30T23:59:59Z"], [
        (day("2024-06-01"), True), (day("2024-05-31"), False), (day("2024-06-30"), True),
        (day("2024-07-01"), False), *EMPTY]),
    ("expected_purchase_date", "is_empty", None, [(None, True), (MISSING, True), (day("2024-06-15"), False)]),
    ("expected_purchase_date", "is_not_empty", None, [(None, False), (MISSING, False), (day("2024-06-15"), True)]),
    ("renewal_on", "within_next_days", 30, [(day("2024-07-15"), True), (day("2024-07-16"), False)]),
    # ---- list --------------------------------------------------------------------------------
    ("tags", "has_any", ["VIP", "b2b"], [(["vip"], True), (["Vip", "x"], True), (["x"], False), ([""], False),
                                         (["b2b", "B2B"], True), *EMPTY_LISTS]),
    ("tags", "has_all", ["vip", "B2B"], [(["VIP", "b2b", "x"], True), (["vip"], False), (["vip", "vip"], False),
                                         *EMPTY_LISTS]),
    ("tags", "has_all", ["vip", "VIP"], [(["Vip"], True), (["x"], False)]),
    ("tags", "has_none", ["vip"], [(["x"], True), (["VIP"], False), (["x", "vip"], False), *EMPTY_LISTS_NEG]),
    ("tags", "is_empty", None, [([], True), (None, True), (MISSING, True), ([""], False), (["x"], False)]),
    ("tags", "is_not_empty", None, [([], False), (None, False), (MISSING, False), ([""], True), (["x"], True)]),
    ("interests", "has_any", ["golf"], [(["GOLF", "ski"], True), (["ski"], False), *EMPTY_LISTS]),
]


def _id(row) -> str:
    field, op, value, _ = row
    return f"{field}-{op}-{value}"


@pytest.mark.parametrize("row", TABLE, ids=[_id(r) for r in TABLE])
def test_operator_at_boundaries_and_on_empty_values(row):
    field, op, value, cases = row
    condition = {"field": field, "op": op} | ({} if value is None else {"value": value})
    stored = [stored for stored, _ in cases]
    assert both(condition, stored, field=field) == [expected for _, expected in cases]


@pytest.mark.parametrize("row", TABLE, ids=[_id(r) for r in TABLE])
def test_not_is_the_exact_complement(row):
    field, op, value, cases = row
    condition = {"field": field, "op": op} | ({} if value is None else {"value": value})
    stored = [stored for stored, _ in cases]
    assert both({"not": condition}, stored, field=field) == [not expected for _, expected in cases]


def test_every_operator_of_every_type_is_in_the_table():
    from audience.rules.operators import OPERATORS

    covered = {(CATALOG.type_of(field), op) for field, op, _, _ in TABLE}
    wanted = {(field_type, op) for field_type, ops in OPERATORS.items() for op in ops}
    assert wanted - covered == set()


def test_date_operators_use_the_utc_date_of_as_of():
    # 23:30 at UTC-5 on the 15th is 04:30Z on the 16th: today is the 16th for date fields.
    from datetime import datetime, timezone

    late = datetime(2024, 6, 15, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    condition = {"field": "expected_purchase_date", "op": "within_last_days", "value": 0}
    assert both(condition, [day("2024-06-16"), day("2024-06-15")], field="expected_purchase_date",
                as_of=late) == [True, False]


def test_a_column_missing_from_the_batch_reads_as_empty():
    from agreement import contacts_batch
    from audience.rules import evaluate_record, parse_rule
    from audience.rules.vectorised import evaluate_segments

    contacts = [{"contact_id": "a", "email": "a@x.io"}, {"contact_id": "b"}]
    batch = contacts_batch(contacts, only_present_columns=True)
    assert batch.schema.names == ["contact_id", "email"]
    rules = {
        "no_city": {"field": "city", "op": "is_empty"},
        "not_paris": {"field": "city", "op": "neq", "value": "Paris"},
        "tagged": {"field": "tags", "op": "has_any", "value": ["x"]},
        "untagged": {"field": "tags", "op": "has_none", "value": ["x"]},
        "scored": {"field": "score", "op": "gte", "value": 0},
    }
    parsed = [(sid, parse_rule(r, CATALOG)) for sid, r in rules.items()]
    found = evaluate_segments(parsed, [batch], as_of=AS_OF, catalog=CATALOG)
    assert {sid: ids.to_pylist() for sid, ids in found.items()} == {
        "no_city": ["a", "b"], "not_paris": ["a", "b"], "tagged": [], "untagged": ["a", "b"], "scored": []}
    for sid, rule in parsed:
        expected = sid in ("no_city", "not_paris", "untagged")
        assert all(evaluate_record(rule, c, as_of=AS_OF, catalog=CATALOG) is expected for c in contacts)


def test_iso_strings_in_a_contact_are_read_as_instants_by_the_per_record_evaluator():
    from audience.rules import evaluate_record, parse_rule

    rule = parse_rule({"field": "last_clicked_at", "op": "within_last_days", "value": 7}, CATALOG)
    assert evaluate_record(rule, {"last_clicked_at": "2024-06-10T00:00:00Z"}, as_of=AS_OF, catalog=CATALOG)
    assert not evaluate_record(rule, {"last_clicked_at": "2024-01-01T00:00:00Z"}, as_of=AS_OF, catalog=CATALOG)
    assert not evaluate_record(rule, {"last_clicked_at": ""}, as_of=AS_OF, catalog=CATALOG)


def test_list_operators_on_null_lists_that_own_child_values_and_on_sliced_batches():
    # Arrow lets a null list own child values (Parquet readers produce such arrays); they are still empty.
    import pyarrow as pa
    from agreement import contacts_batch
    from audience.rules import parse_rule
    from audience.rules.vectorised import evaluate_segments

    tags = pa.ListArray.from_arrays(pa.array([0, 1, 2, 4, 4], pa.int32()), pa.array(["vip", "vip", "b2b", "VIP"]),
                                    mask=pa.array([False, True, False, False]))
    base = contacts_batch([{"contact_id": f"c{i}"} for i in range(4)])
    batch = base.set_column(base.schema.get_field_index("tags"), "tags", tags)
    assert batch.column(batch.schema.get_field_index("tags")).to_pylist() == [["vip"], None, ["b2b", "VIP"], []]
    rules = {
        "any_vip": {"field": "tags", "op": "has_any", "value": ["vip"]},
        "all": {"field": "tags", "op": "has_all", "value": ["vip", "b2b"]},
        "none": {"field": "tags", "op": "has_none", "value": ["VIP"]},
        "empty": {"field": "tags", "op": "is_empty"},
    }
    parsed = [(sid, parse_rule(r, CATALOG)) for sid, r in rules.items()]
    for batches in ([batch], [batch.slice(0, 1), batch.slice(1, 2), batch.slice(3)]):
        found = evaluate_segments(parsed, batches, as_of=AS_OF, catalog=CATALOG)
        assert {sid: ids.to_pylist() for sid, ids in found.items()} == {
            "any_vip": ["c0", "c2"], "all": ["c2"], "none": ["c1", "c3"], "empty": ["c1", "c3"]}


def test_the_per_record_evaluator_reads_dynamodb_decimals_as_numbers():
    from decimal import Decimal

    from audience.rules import evaluate_record, parse_rule

    rule = parse_rule({"field": "score", "op": "gte", "value": 10}, CATALOG)
    empty = parse_rule({"field": "score", "op": "is_empty"}, CATALOG)
    assert evaluate_record(rule, {"score": Decimal("10.5")}, as_of=AS_OF, catalog=CATALOG)
    assert not evaluate_record(rule, {"score": Decimal("9")}, as_of=AS_OF, catalog=CATALOG)
    assert evaluate_record(empty, {"score": Decimal("NaN")}, as_of=AS_OF, catalog=CATALOG)
