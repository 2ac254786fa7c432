"""Every format opened with the library a user would use, and its contents checked."""

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from audience.exports.writers import open_writer
from audience.exports.writers.xlsx_writer import XlsxWriter

COLUMNS = [
    "contact_id", "email", "first_name", "last_name", "company", "city", "state", "age", "score",
    "subscribed", "created_at", "expected_purchase_date", "tags", "loyalty_tier", "lifetime_value",
]  # fmt: skip


def write(fmt, sink, catalog, columns=COLUMNS, pages=()):
    writer = open_writer(fmt, sink, columns, catalog)
    written = sum(writer.write_rows(list(page)) for page in pages)
    writer.close()
    return written


def test_csv_has_a_bom_and_excel_dialect_reads_typed_text(sink, catalog, contacts):
    assert write("csv", sink, catalog, pages=(contacts,)) == 2
    raw = sink.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""), dialect="excel"))
    assert list(rows[0]) == COLUMNS
    ana, bob = rows
    assert ana["last_name"] == "Müller-Łukasz"
    assert ana["age"] == "34" and ana["score"] == "12.5" and ana["subscribed"] == "true"
    assert ana["tags"] == "vip, newsletter"
    assert ana["created_at"] == "2025-03-01T10:20:30.000Z"
    assert ana["lifetime_value"] == "1234.75" and ana["loyalty_tier"] == "gold"
    assert bob["age"] == "-5", "a negative number is a number, not a formula"
    assert bob["tags"] == "" and bob["score"] == ""


def test_csv_neutralises_every_formula_trigger(sink, catalog, contacts):
    write("csv", sink, catalog, pages=(contacts,))
    bob = list(csv.DictReader(io.StringIO(sink.getvalue().decode("utf-8-sig"), newline="")))[1]
    assert bob["first_name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert bob["last_name"] == "'-2+3"
    assert bob["company"] == "'@SUM(A1:A2)"
    assert bob["city"] == "'\tcmd"
    assert bob["state"] == "'\r=1+1"


def test_csv_phone_keeps_plus_behind_a_quote(sink, catalog, contacts):
    write("csv", sink, catalog, columns=["contact_id", "phone"], pages=(contacts,))
    rows = list(csv.reader(io.StringIO(sink.getvalue().decode("utf-8-sig"), newline="")))
    assert rows[1] == ["c1", "'+4915112345678"]


def test_xlsx_opens_with_typed_cells_and_no_formulas(sink, catalog, contacts):
    assert write("xlsx", sink, catalog, pages=(contacts,)) == 2
    book = openpyxl.load_workbook(io.BytesIO(sink.getvalue()))
    sheet = book["Contacts"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == COLUMNS
    ana = dict(zip(COLUMNS, rows[1], strict=True))
    assert ana["age"] == 34 and ana["score"] == 12.5 and ana["subscribed"] is True
    assert ana["created_at"] == datetime(2025, 3, 1, 10, 20, 30)
    assert ana["expected_purchase_date"] == datetime(2025, 7, 14)
    assert ana["tags"] == "vip, newsletter" and ana["lifetime_value"] == 1234.75
    bob_cells = {c: cell for c, cell in zip(COLUMNS, sheet[3], strict=True)}
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert bob_cells["first_name"].value == '\'=HYPERLINK("http://evil.example","click")'
    assert bob_cells["last_name"].value == "'-2+3"
    assert bob_cells["company"].value == "'@SUM(A1:A2)"
    assert bob_cells["city"].value == "'\tcmd"
    assert bob_cells["age"].value == -5 and bob_cells["age"].data_type == "n"
    assert bob_cells["tags"].value is None


def test_xlsx_continues_on_a_new_sheet_past_the_row_limit(sink, catalog):
    writer = XlsxWriter(sink, ["contact_id"], catalog, max_rows_per_sheet=3)
    writer.write_rows([{"contact_id": f"c{i}"} for i in range(5)])
    writer.close()
    book = openpyxl.load_workbook(io.BytesIO(sink.getvalue()))
    assert book.sheetnames == ["Contacts", "Contacts (2)", "Contacts (3)"]
    ids = [row[0] for name in book.sheetnames for row in book[name].iter_rows(min_row=2, values_only=True)]
    assert ids == [f"c{i}" for i in range(5)]
    assert all(book[name]["A1"].value == "contact_id" for name in book.sheetnames)


def test_xlsx_drops_control_characters_before_neutralising(sink, catalog):
    writer = XlsxWriter(sink, ["first_name"], catalog)
    writer.write_rows([{"first_name": "\x01=cmd|' /C calc'!A0"}])
    writer.close()
    cell = openpyxl.load_workbook(io.BytesIO(sink.getvalue()))["Contacts"]["A2"]
    assert cell.value == "'=cmd|' /C calc'!A0" and cell.data_type == "s"


def test_parquet_is_typed_by_the_shared_column_layout(sink, catalog, contacts):
    write("parquet", sink, catalog, pages=(contacts[:1], contacts[1:]))
    table = pq.read_table(io.BytesIO(sink.getvalue()))
    assert table.column_names == COLUMNS
    assert table.schema.field("age").type == pa.float64()
    assert table.schema.field("subscribed").type == pa.bool_()
    assert table.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("expected_purchase_date").type == pa.date32()
    assert table.schema.field("tags").type == pa.list_(pa.string())
    ana, bob = table.to_pylist()
    assert ana["created_at"] == datetime(2025, 3, 1, 10, 20, 30, tzinfo=UTC)
    assert ana["expected_purchase_date"] == date(2025, 7, 14)
    assert ana["tags"] == ["vip", "newsletter"] and ana["lifetime_value"] == 1234.75
    assert bob["first_name"].startswith("=HYPERLINK"), "parquet keeps data as stored"
    assert bob["age"] == -5.0 and bob["tags"] == [] and bob["created_at"] is None


def test_parquet_buffers_pages_into_row_groups(sink, catalog):
    from audience.exports.writers.parquet_writer import ParquetWriter

    writer = ParquetWriter(sink, ["contact_id", "age"], catalog, row_group_rows=10)
    for start in range(0, 25, 5):
        writer.write_rows([{"contact_id": f"c{i}", "age": i} for i in range(start, start + 5)])
    writer.close()
    meta = pq.ParquetFile(io.BytesIO(sink.getvalue())).metadata
    assert meta.num_rows == 25 and meta.num_row_groups == 3


def test_jsonl_has_exactly_the_selected_keys(sink, catalog, contacts):
    write("jsonl", sink, catalog, pages=(contacts,))
    lines = sink.getvalue().decode("utf-8").splitlines()
    ana, bob = (json.loads(line) for line in lines)
    assert list(ana) == COLUMNS
    assert ana["tags"] == ["vip", "newsletter"] and ana["age"] == 34 and ana["subscribed"] is True
    assert bob["score"] is None and bob["tags"] == []
    assert bob["first_name"] == '=HYPERLINK("http://evil.example","click")'


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_audience_sha256_uses_meta_headers_and_normalised_hashes(sink, catalog):
    rows = [
        {"email": "  Ana@Example.COM ", "phone": "+49 151 1234 5678", "first_name": "Ána-María",
         "city": "New York", "country": "US", "gender": "Female"},
        {"email": "", "phone": None},
        {"phone": "+1 (415) 555-2671"},
    ]  # fmt: skip
    columns = ["email", "phone", "first_name", "city", "country", "gender"]
    assert write("audience_sha256", sink, catalog, columns=columns, pages=(rows,)) == 2
    raw = sink.getvalue()
    assert not raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert table[0] == ["email", "phone", "fn", "ct", "country", "gen"]
    assert table[1] == [
        sha("ana@example.com"), sha("4915112345678"), sha("ánamaría"),
        sha("newyork"), sha("us"), sha("f"),
    ]  # fmt: skip
    assert table[2] == ["", sha("14155552671"), "", "", "", ""]
    assert all(len(cell) in (0, 64) for row in table[1:] for cell in row)


def test_audience_sha256_refuses_non_identifier_columns(sink, catalog):
    with pytest.raises(ValueError):
        open_writer("audience_sha256", sink, ["email", "score"], catalog)
