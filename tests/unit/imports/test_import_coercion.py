"""Coercion by catalog type, as real exports write values."""

from __future__ import annotations

import datetime as dt

import pytest
from audience.fields import FieldType
from audience.imports.coercion import CoercionError, CoercionOptions, coerce
from audience.imports.identity import IdentityError, normalise_email, normalise_phone

US = CoercionOptions(date_order="MDY", default_region="US")
EU = CoercionOptions(date_order="DMY", default_region="DE")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234", 1234),
        ("1,234,567.5", 1234567.5),
        ("1.234,5", 1234.5),
        ("12,5", 12.5),
        ("1 234", 1234),
        ("-3", -3),
        ("+4.25", 4.25),
        ("1e3", 1000),
        (7.0, 7),
        (2.5, 2.5),
        ("1'000", 1000),
    ],
)
def test_numbers_accept_thousands_separators(raw, expected):
    assert coerce(raw, "score", FieldType.NUMBER, US) == expected


@pytest.mark.parametrize("raw", ["abc", "1,2,3", "12..5", "nan", "inf", True])
def test_non_numbers_are_rejected(raw):
    with pytest.raises(CoercionError):
        coerce(raw, "score", FieldType.NUMBER, US)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yes", True),
        ("No", False),
        ("TRUE", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("y", True),
        ("N", False),
        (1, True),
        (0.0, False),
        (True, True),
    ],
)
def test_booleans(raw, expected):
    assert coerce(raw, "subscribed", FieldType.BOOLEAN, US) is expected


def test_boolean_rejects_other_words():
    with pytest.raises(CoercionError, match="yes/no"):
        coerce("maybe", "subscribed", FieldType.BOOLEAN, US)


@pytest.mark.parametrize(
    ("raw", "options", "expected"),
    [
        ("2025-03-04", US, "2025-03-04"),
        ("03/04/2025", US, "2025-03-04"),
        ("03/04/2025", EU, "2025-04-03"),
        ("04.03.2025", EU, "2025-03-04"),
        ("2025/3/4", EU, "2025-03-04"),
        ("20250304", US, "2025-03-04"),
        (45720, US, "2025-03-04"),
        ("45720", US, "2025-03-04"),
        (dt.date(2025, 3, 4), US, "2025-03-04"),
        (dt.datetime(2025, 3, 4, 23, 0), US, "2025-03-04"),
    ],
)
def test_dates_in_common_formats_and_excel_serials(raw, options, expected):
    assert coerce(raw, "expected_purchase_date", FieldType.DATE, options) == expected


def test_day_month_order_is_never_guessed():
    with pytest.raises(CoercionError, match="m/d/Y"):
        coerce("25/12/2024", "expected_purchase_date", FieldType.DATE, US)


@pytest.mark.parametrize(
    ("raw", "options", "expected"),
    [
        ("2025-03-04T10:20:30Z", US, "2025-03-04T10:20:30Z"),
        ("2025-03-04 10:20:30+02:00", US, "2025-03-04T08:20:30Z"),
        ("2025-03-04", US, "2025-03-04T00:00:00Z"),
        ("03/04/2025 1:05 PM", US, "2025-03-04T13:05:00Z"),
        ("04/03/2025 13:05:09", EU, "2025-03-04T13:05:09Z"),
        (45720.5, US, "2025-03-04T12:00:00Z"),
        (dt.datetime(2025, 3, 4, 10, 0), US, "2025-03-04T10:00:00Z"),
    ],
)
def test_datetimes_become_utc_iso(raw, options, expected):
    assert coerce(raw, "last_clicked_at", FieldType.DATETIME, options) == expected


@pytest.mark.parametrize("raw", ["yesterday", "2025-02-30", "13/13/2025", "0", dt.time(10, 0), "99999999"])
def test_bad_dates_are_rejected(raw):
    with pytest.raises(CoercionError):
        coerce(raw, "last_clicked_at", FieldType.DATETIME, US)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("vip, early;beta|VIP", ["vip", "early", "beta"]), (["a", " b ", ""], ["a", "b"]), ("solo", ["solo"])],
)
def test_tags_split_on_comma_semicolon_pipe(raw, expected):
    assert coerce(raw, "tags", FieldType.LIST, US) == expected


def test_strings_from_spreadsheet_numbers_keep_their_digits():
    assert coerce(90210.0, "city", FieldType.STRING, US) == "90210"
    assert coerce("  Paris ", "city", FieldType.STRING, US) == "Paris"
    with pytest.raises(CoercionError):
        coerce("x" * 2001, "city", FieldType.STRING, US)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Ann@Example.COM ", "ann@example.com"), ("mailto:b.c+tag@sub.example.org", "b.c+tag@sub.example.org")],
)
def test_emails_are_trimmed_and_lower_cased(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["no-at.example.com", "a@b", "a@b.c", "a b@x.com", "a@-x.com", ".a@x.com", "a..b@x.com"]
)
def test_invalid_emails_are_rejected(raw):
    with pytest.raises(IdentityError):
        normalise_email(raw)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(202) 456-1111", "US", "+12024561111"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("030 1234567", "DE", "+49301234567"),
        ("0049 30 1234567", "DE", "+49301234567"),
        (4915112345678.0, "US", "+4915112345678"),
        ("4915112345678", "US", "+4915112345678"),
    ],
)
def test_phones_become_e164_with_the_default_region(raw, region, expected):
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["12", "hello", "030 1234567"])
def test_invalid_phones_are_rejected_for_the_region(raw):
    with pytest.raises(IdentityError):
        normalise_phone(raw, "US")


def test_email_and_phone_fields_go_through_identity_normalisation():
    assert coerce("X@Y.COM", "email", FieldType.STRING, US) == "x@y.com"
    with pytest.raises(CoercionError, match="phone"):
        coerce("123", "phone", FieldType.STRING, US)
