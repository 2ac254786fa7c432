"""Row validation, in-file duplicate collapse and the reject report."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from audience.fields import FieldCatalog, FieldType
from audience.imports.coercion import CoercionOptions
from audience.imports.collapse import collapse
from audience.imports.mapping import map_columns
from audience.imports.report import RejectReport
from audience.imports.rows import ROW_REJECTED, VALUE_DROPPED, ContactRow, RejectRecord, validate_rows
from audience.imports.table import RawTable

CATALOG = FieldCatalog({"plan": FieldType.STRING})
OPTIONS = CoercionOptions()


def outcomes(header, rows):
    table = RawTable(header=header, rows=iter(rows), format="csv")
    return list(validate_rows(table, map_columns(header, CATALOG), CATALOG, OPTIONS))


def test_valid_rows_are_typed_and_bad_rows_rejected_with_every_reason():
    result = outcomes(
        ["Email", "Age", "Subscribed", "Plan"],
        [
            (2, ["A@X.com", "1,200", "yes", "gold"]),
            (3, ["not-an-email", "old", "yes", ""]),
            (4, ["", "", "", ""]),
        ],
    )
    assert len(result) == 2  # the blank row is skipped
    assert result[0].contact.fields == {"email": "a@x.com", "age": 1200, "subscribed": True, "plan": "gold"}
    assert result[1].contact is None
    assert [(r.row, r.column, r.value) for r in result[1].rejects] == [
        (3, "Email", "not-an-email"),
        (3, "Age", "old"),
    ]


def test_values_beyond_the_header_and_rows_with_only_ignored_columns_are_rejected():
    result = outcomes(["Email", "Unknown"], [(2, ["a@x.com", "", "stray"]), (3, ["", "something"])])
    assert result[0].rejects[0].column == "(beyond the header)"
    assert result[1].rejects[0].reason == "no value in any imported column"


def test_contact_ids_are_checked():
    result = outcomes(["contact_id", "Email"], [(2, ["ok-1", "a@x.com"]), (3, ["bad id!", "b@x.com"])])
    assert result[0].contact.contact_id == "ok-1"
    assert "contact id" in result[1].rejects[0].reason


def test_duplicates_in_one_file_collapse_with_later_values_winning():
    rows = [
        ContactRow(2, {"email": "a@x.com", "first_name": "Ann"}),
        ContactRow(3, {"phone": "+12024561111", "city": "Oslo"}),
        ContactRow(4, {"email": "a@x.com", "phone": "+12024561111", "first_name": "Anne"}),
        ContactRow(5, {"email": "b@x.com"}),
    ]
    candidates, rejects = collapse(rows)
    # Row 4 links the email of row 2 and the phone of row 3: those are two candidates already.
    assert [c.rows for c in candidates] == [[2], [3], [5]]
    assert "different contacts" in rejects[0].reason and rejects[0].row == 4


def test_collapse_merges_rows_of_the_same_person():
    rows = [
        ContactRow(2, {"email": "a@x.com", "first_name": "Ann"}),
        ContactRow(3, {"email": "a@x.com", "phone": "+12024561111", "first_name": "Anne"}),
        ContactRow(4, {"phone": "+12024561111", "city": "Oslo"}),
    ]
    candidates, rejects = collapse(rows)
    assert rejects == []
    assert len(candidates) == 1
    assert candidates[0].rows == [2, 3, 4]
    assert candidates[0].fields == {
        "email": "a@x.com",
        "phone": "+12024561111",
        "first_name": "Anne",
        "city": "Oslo",
    }


def test_collapse_rejects_a_second_email_for_the_same_phone():
    rows = [
        ContactRow(2, {"email": "a@x.com", "phone": "+12024561111"}),
        ContactRow(3, {"email": "b@x.com", "phone": "+12024561111"}),
    ]
    candidates, rejects = collapse(rows)
    assert len(candidates) == 1
    assert (rejects[0].row, rejects[0].column) == (3, "email")


def test_report_is_csv_with_formulas_neutralised():
    report = RejectReport()
    report.add(
        [RejectRecord(7, "Email", '=HYPERLINK("x")', "not an email"), RejectRecord(1, "Zip", "", "unknown")]
    )
    text = report.to_bytes().decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["row", "column", "value", "reason", "action"]
    assert lines[1] == ["7", "Email", '\'=HYPERLINK("x")', "not an email", "row rejected"]
    assert report.rows == {7}


def test_one_report_keeps_rejected_rows_and_dropped_values_apart():
    report = RejectReport()
    report.add(
        [
            RejectRecord(2, "Phone", "12", "not a phone number", VALUE_DROPPED),
            RejectRecord(3, "Email", "x", "not an email"),
            RejectRecord(4, "Age", "old", "not a number", VALUE_DROPPED),
            RejectRecord(4, "Email", "b@x.com", "this email already belongs to contact c-9"),
        ]
    )
    assert report.rows == {3, 4}
    assert report.rows_with_dropped_values == {2}  # row 4 was rejected after all
    actions = [line[4] for line in csv.reader(io.StringIO(report.to_bytes().decode("utf-8-sig")))][1:]
    assert actions == ["value dropped", "row rejected", "value dropped", "row rejected"]


def test_a_row_that_identifies_a_contact_imports_without_its_bad_values():
    result = outcomes(
        ["contact_id", "Email", "Phone", "First Name", "Score"],
        [(2, ["c-1", "ann@example.com", "not a phone", "Ann", "lots"])],
    )
    [row] = result
    assert row.contact is not None
    assert row.contact.fields == {"contact_id": "c-1", "email": "ann@example.com", "first_name": "Ann"}
    assert [(r.column, r.value, r.action) for r in row.rejects] == [
        ("Phone", "not a phone", VALUE_DROPPED),
        ("Score", "lots", VALUE_DROPPED),
    ]


def test_a_bad_email_is_dropped_when_the_phone_identifies_the_contact():
    [row] = outcomes(["Email", "Phone"], [(2, ["broken", "+1 202 456 1111"])])
    assert row.contact is not None and row.contact.fields == {"phone": "+12024561111"}
    assert row.rejects[0].action == VALUE_DROPPED


def test_a_row_is_rejected_when_nothing_valid_identifies_the_contact():
    result = outcomes(
        ["contact_id", "Email", "Phone", "First Name"],
        [(2, ["", "broken", "12", "Bo"]), (3, ["bad id!", "c@x.com", "", "Cy"]), (4, ["", "", "", "Di"])],
    )
    assert result[0].contact is None and {r.action for r in result[0].rejects} == {ROW_REJECTED}
    assert result[1].contact is None  # an invalid contact id names no contact, whatever the email says
    assert result[2].contact is not None  # no identity given at all: a new contact, as before


def test_created_at_from_the_file_is_kept_apart_and_a_future_one_is_dropped():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    table = RawTable(
        header=["Email", "Date added"],
        rows=iter([(2, ["a@x.com", "2024-03-04 10:00"]), (3, ["b@x.com", "2027-01-01"]), (4, ["c@x.com", "soon"])]),
        format="csv",
    )
    header = table.header
    result = list(validate_rows(table, map_columns(header, CATALOG), CATALOG, OPTIONS, now=now))
    assert result[0].contact.created_at == "2024-03-04T10:00:00Z" and "created_at" not in result[0].contact.fields
    assert result[1].contact.created_at is None
    future = result[1].rejects[0]
    assert (future.reason, future.action) == ("a creation time in the future", VALUE_DROPPED)
    assert result[2].contact.created_at is None and result[2].rejects[0].action == VALUE_DROPPED


def test_collapsed_rows_keep_the_earliest_creation_time():
    rows = [
        ContactRow(2, {"email": "a@x.com"}, "2024-05-01T00:00:00Z"),
        ContactRow(3, {"email": "a@x.com"}, "2023-01-01T00:00:00Z"),
        ContactRow(4, {"email": "a@x.com"}, None),
    ]
    [candidate], _ = collapse(rows)
    assert candidate.created_at == "2023-01-01T00:00:00Z"


def test_upload_keys_name_tenant_job_and_file_and_nothing_else():
    from audience.imports.jobs import check_file_name, parse_upload_key, upload_key

    key = upload_key("acme", "j1", "Kunden (März).csv")
    assert parse_upload_key(key) == ("acme", "j1", "Kunden (März).csv")
    assert parse_upload_key("tenants/acme/imports/j1/sub/x.csv") is None
    assert parse_upload_key("tenants/acme/events/x.jsonl") is None
    assert check_file_name("list.XLSX") is None
    assert "plain file name" in check_file_name("../etc/passwd.csv")
    assert "must end in" in check_file_name("list.numbers")


def test_a_date_time_utc_cannot_hold_is_that_values_drop_not_the_rows_loss():
    [row] = outcomes(["Email", "Last Clicked At", "First Name"],
                     [(2, ["ann@example.com", "0001-01-01T00:00:00+05:30", "Ann"])])
    assert row.contact is not None
    assert row.contact.fields == {"email": "ann@example.com", "first_name": "Ann"}
    assert [(r.column, r.value, r.action) for r in row.rejects] == [
        ("Last Clicked At", "0001-01-01T00:00:00+05:30", VALUE_DROPPED)]
    assert "outside the years 1-9999 once in UTC" in row.rejects[0].reason
