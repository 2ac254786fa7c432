"""Row validation, in-file duplicate collapse and the reject report."""

from __future__ import annotations

import csv
import io

from audience.fields import FieldCatalog, FieldType
from audience.imports.coercion import CoercionOptions
from audience.imports.collapse import collapse
from audience.imports.mapping import map_columns
from audience.imports.report import RejectReport
from audience.imports.rows import ContactRow, RejectRecord, validate_rows
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
    assert lines[0] == ["row", "column", "value", "reason"]
    assert lines[1] == ["7", "Email", '\'=HYPERLINK("x")', "not an email"]
    assert report.rows == {7}


def test_upload_keys_name_tenant_job_and_file_and_nothing_else():
    from audience.imports.jobs import check_file_name, parse_upload_key, upload_key

    key = upload_key("acme", "j1", "Kunden (März).csv")
    assert parse_upload_key(key) == ("acme", "j1", "Kunden (März).csv")
    assert parse_upload_key("tenants/acme/imports/j1/sub/x.csv") is None
    assert parse_upload_key("tenants/acme/events/x.jsonl") is None
    assert check_file_name("list.XLSX") is None
    assert "plain file name" in check_file_name("../etc/passwd.csv")
    assert "must end in" in check_file_name("list.numbers")
