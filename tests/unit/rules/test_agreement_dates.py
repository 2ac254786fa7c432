"""Date and datetime operators on both sides of every edge, through both evaluators.

as_of is 2025-06-15T12:00:00Z. Datetime fields compare instants for the relative windows and for
datetime literals; a date-only literal compares UTC calendar dates; date fields (no time of day)
always compare calendar dates, "today" being as_of's UTC date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from agreement import AS_OF, MISSING, both

US = timedelta(microseconds=1)
DAY = timedelta(days=1)
EMPTIES = [(None, False), (MISSING, False)]


def at(text: str) -> datetime:
    """A datetime from ISO text; zoneless text is UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _case(field, op, value, rows):
    rule = {"field": field, "op": op} if value is None else {"field": field, "op": op, "value": value}
    return pytest.param(rule, rows, id=f"{field}-{op}-{value}"[:90])


DATE_CASES = [
    # -- datetime fields, relative windows: instants, edges inclusive -----------------------------
    _case("last_clicked_at", "within_last_days", 7, [
        (AS_OF - 7 * DAY, True), (AS_OF - 7 * DAY - US, False), (AS_OF, True), (AS_OF + US, False),
        (AS_OF - 3 * DAY, True), *EMPTIES]),
    _case("last_clicked_at", "within_last_days", 0, [(AS_OF, True), (AS_OF - US, False), (AS_OF + US, False)]),
    _case("seen_at", "more_than_days_ago", 7, [
        (AS_OF - 7 * DAY - US, True), (AS_OF - 7 * DAY, False), (AS_OF - 30 * DAY, True), (AS_OF + DAY, False),
        *EMPTIES]),
    _case("seen_at", "more_than_days_ago", 0, [(AS_OF - US, True), (AS_OF, False)]),
    _case("last_clicked_at", "within_next_days", 7, [
        (AS_OF, True), (AS_OF - US, False), (AS_OF + 7 * DAY, True), (AS_OF + 7 * DAY + US, False), *EMPTIES]),
    # -- date fields: calendar dates against today = 2025-06-15 ---------------------------------
    _case("expected_purchase_date", "within_last_days", 7, [
        (date(2025, 6, 8), True), (date(2025, 6, 7), False), (date(2025, 6, 15), True), (date(2025, 6, 16), False),
        *EMPTIES]),
    _case("birthday", "within_last_days", 0, [(date(2025, 6, 15), True), (date(2025, 6, 14), False)]),
    _case("expected_purchase_date", "more_than_days_ago", 7, [
        (date(2025, 6, 7), True), (date(2025, 6, 8), False), *EMPTIES]),
    _case("expected_purchase_date", "within_next_days", 7, [
        (date(2025, 6, 15), True), (date(2025, 6, 14), False), (date(2025, 6, 22), True), (date(2025, 6, 23), False),
        *EMPTIES]),
    # -- `on`: the UTC calendar date ------------------------------------------------------------
    _case("last_clicked_at", "on", "2025-06-10", [
        (at("2025-06-10T00:00:00"), True), (at("2025-06-10T23:59:59.999999"), True),
        (at("2025-06-09T23:59:59.999999"), False), (at("2025-06-11T00:00:00"), False),
        (at("2025-06-10T23:30:00-02:00"), False),  # 2025-06-11T01:30Z
        (at("2025-06-11T01:30:00+02:00"), True),  # 2025-06-10T23:30Z
        *EMPTIES]),
    _case("last_clicked_at", "on", "2025-06-10T22:00:00-05:00", [  # 2025-06-11T03:00Z: the 11th
        (at("2025-06-11T00:00:00"), True), (at("2025-06-10T23:00:00"), False)]),
    _case("birthday", "on", "2025-06-10", [(date(2025, 6, 10), True), (date(2025, 6, 11), False), *EMPTIES]),
    _case("birthday", "on", "2025-06-10T23:00:00-02:00", [(date(2025, 6, 11), True), (date(2025, 6, 10), False)]),
    # -- before / after / between with date-only literals: calendar dates -------------------------
    _case("created_at", "before", "2025-06-10", [
        (at("2025-06-09T23:59:59.999999"), True), (at("2025-06-10T00:00:00"), False),
        (at("2025-06-10T12:00:00"), False), *EMPTIES]),
    _case("created_at", "after", "2025-06-10", [
        (at("2025-06-10T23:59:59.999999"), False), (at("2025-06-11T00:00:00"), True),
        (at("2025-06-10T00:00:00"), False), *EMPTIES]),
    _case("updated_at", "between", ["2025-06-01", "2025-06-10"], [
        (at("2025-06-01T00:00:00"), True), (at("2025-05-31T23:59:59.999999"), False),
        (at("2025-06-10T23:59:59.999999"), True), (at("2025-06-11T00:00:00"), False), *EMPTIES]),
    _case("updated_at", "between", ["2025-06-10", "2025-06-10"], [
        (at("2025-06-10T00:00:00"), True), (at("2025-06-10T23:59:59"), True), (at("2025-06-11T00:00:00"), False)]),
    # -- with datetime literals: instants (offsets converted to UTC) ------------------------------
    _case("created_at", "before", "2025-06-10T12:00:00Z", [
        (at("2025-06-10T11:59:59.999999"), True), (at("2025-06-10T12:00:00"), False), *EMPTIES]),
    _case("created_at", "before", "2025-06-10T14:00:00+02:00", [
        (at("2025-06-10T11:59:59.999999"), True), (at("2025-06-10T12:00:00"), False)]),
    _case("created_at", "after", "2025-06-10T12:00:00", [  # zoneless literal: UTC
        (at("2025-06-10T12:00:00"), False), (at("2025-06-10T12:00:00.000001"), True), *EMPTIES]),
    _case("updated_at", "between", ["2025-06-01T06:00:00Z", "2025-06-10T18:00:00Z"], [
        (at("2025-06-01T06:00:00"), True), (at("2025-06-01T05:59:59.999999"), False),
        (at("2025-06-10T18:00:00"), True), (at("2025-06-10T18:00:00.000001"), False), *EMPTIES]),
    # -- date fields with either kind of literal: calendar dates --------------------------------
    _case("expected_purchase_date", "before", "2025-06-10", [
        (date(2025, 6, 9), True), (date(2025, 6, 10), False), *EMPTIES]),
    _case("expected_purchase_date", "after", "2025-06-10", [
        (date(2025, 6, 11), True), (date(2025, 6, 10), False), *EMPTIES]),
    _case("expected_purchase_date", "after", "2025-06-10T23:00:00Z", [
        (date(2025, 6, 10), False), (date(2025, 6, 11), True)]),
    _case("expected_purchase_date", "before", "2025-06-10T01:00:00+02:00", [  # 2025-06-09T23:00Z: the 9th
        (date(2025, 6, 8), True), (date(2025, 6, 9), False)]),
    _case("birthday", "between", ["2025-06-01", "2025-06-10"], [
        (date(2025, 6, 1), True), (date(2025, 6, 10), True), (date(2025, 5, 31), False), (date(2025, 6, 11), False),
        *EMPTIES]),
    _case("birthday", "between", ["2025-06-01T12:00:00Z", "2025-06-10T01:00:00Z"], [
        (date(2025, 6, 1), True), (date(2025, 6, 10), True), (date(2025, 5, 31), False), (date(2025, 6, 11), False)]),
    _case("seen_at", "is_empty", None, [(AS_OF, False), (None, True), (MISSING, True)]),
    _case("seen_at", "is_not_empty", None, [(AS_OF, True), (None, False), (MISSING, False)]),
    _case("birthday", "is_empty", None, [(date(2025, 1, 1), False), (None, True), (MISSING, True)]),
    _case("birthday", "is_not_empty", None, [(date(2025, 1, 1), True), (None, False), (MISSING, False)]),
]


@pytest.mark.parametrize(("rule", "rows"), DATE_CASES)
def test_date_operator_gives_the_same_answer_in_both_evaluators(rule, rows):
    values = [value for value, _ in rows]
    assert both(rule, values, field=rule["field"]) == [answer for _, answer in rows]


@pytest.mark.parametrize("as_of", [datetime(2025, 6, 15, 0, 0, tzinfo=UTC), datetime(2025, 6, 15, 23, 59, 59, 999999,
                                                                                       tzinfo=UTC)])
def test_date_fields_use_the_utc_date_of_as_of_whatever_its_time_of_day(as_of):
    rule = {"field": "expected_purchase_date", "op": "within_last_days", "value": 1}
    values = [date(2025, 6, 13), date(2025, 6, 14), date(2025, 6, 15), date(2025, 6, 16)]
    assert both(rule, values, field="expected_purchase_date", as_of=as_of) == [False, True, True, False]


def test_as_of_with_an_offset_is_read_as_its_utc_instant_and_date():
    as_of = datetime(2025, 6, 15, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 2025-06-16T04:30Z
    date_rule = {"field": "birthday", "op": "within_next_days", "value": 0}
    assert both(date_rule, [date(2025, 6, 15), date(2025, 6, 16)], field="birthday", as_of=as_of) == [False, True]
    instant_rule = {"field": "seen_at", "op": "within_last_days", "value": 0}
    values = [at("2025-06-16T04:30:00"), at("2025-06-15T23:30:00")]
    assert both(instant_rule, values, field="seen_at", as_of=as_of) == [True, False]


def test_a_naive_as_of_is_utc():
    rule = {"field": "seen_at", "op": "within_last_days", "value": 1}
    values = [AS_OF - DAY, AS_OF - DAY - US]
    assert both(rule, values, field="seen_at", as_of=AS_OF.replace(tzinfo=None)) == [True, False]
