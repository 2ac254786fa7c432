"""Readers on real files built here: every encoding, delimiter and spreadsheet format, and the caps."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from audience.imports import limits
from audience.imports.errors import ImportFileError
from audience.imports.readers import read_table


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rows_of(table):
    return list(table.rows)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_sniffed(tmp_path, delimiter):
    text = (
        delimiter.join(["Email", "First Name", "Age"])
        + "\n"
        + delimiter.join(["a@x.com", "Ann", "30"])
        + "\n"
    )
    table = read_table(write(tmp_path, "list.csv", text.encode()), "list.csv")
    assert table.header == ["Email", "First Name", "Age"]
    assert rows_of(table) == [(2, ["a@x.com", "Ann", "30"])]


def test_csv_semicolon_with_decimal_commas_is_not_split_on_commas(tmp_path):
    text = "email;score;city\na@x.com;1,5;Köln\nb@x.com;2,25;Bonn\n"
    table = read_table(write(tmp_path, "l.csv", text.encode()), "l.csv")
    assert table.header == ["email", "score", "city"]
    assert rows_of(table)[0] == (2, ["a@x.com", "1,5", "Köln"])


def test_csv_utf8_bom_is_dropped_from_first_header(tmp_path):
    data = "\ufeffEmail,City\r\nb@x.com,Zürich\r\n".encode()
    table = read_table(write(tmp_path, "l.csv", data), "l.csv")
    assert table.header == ["Email", "City"]
    assert rows_of(table) == [(2, ["b@x.com", "Zürich"])]


def test_csv_cp1252_falls_back_without_garbling(tmp_path):
    data = "Email;Name\nc@x.com;Renée “quoted” €\n".encode("cp1252")
    table = read_table(write(tmp_path, "l.csv", data), "l.csv")
    assert rows_of(table) == [(2, ["c@x.com", "Renée “quoted” €"])]


def test_csv_utf16_from_excel_unicode_text(tmp_path):
    data = "Email\tCity\r\nd@x.com\tMálaga\r\n".encode("utf-16")
    table = read_table(write(tmp_path, "l.csv", data), "l.csv")
    assert rows_of(table) == [(2, ["d@x.com", "Málaga"])]


def test_csv_quoted_fields_with_delimiters_newlines_and_crlf(tmp_path):
    data = b'Email,Notes,City\r\n"e@x.com","says ""hi"", twice\r\nsecond line",Paris\r\nf@x.com,,Lyon\r\n'
    table = read_table(write(tmp_path, "l.csv", data), "l.csv")
    assert rows_of(table) == [
        (2, ["e@x.com", 'says "hi", twice\r\nsecond line', "Paris"]),
        (3, ["f@x.com", "", "Lyon"]),
    ]


def test_csv_short_rows_are_padded_and_long_rows_kept_long(tmp_path):
    table = read_table(write(tmp_path, "l.csv", b"a,b,c\n1\n1,2,3,4\n"), "l.csv")
    assert rows_of(table) == [(2, ["1", "", ""]), (3, ["1", "2", "3", "4"])]


def test_csv_over_5_mb_fails_as_too_large(tmp_path):
    line = b"someone@example.com,Someone,Somewhere\n"
    data = b"email,name,city\n" + line * (limits.MAX_TABULAR_BYTES // len(line) + 1)
    with pytest.raises(ImportFileError) as err:
        read_table(write(tmp_path, "big.csv", data), "big.csv")
    assert err.value.code == "too_large"
    assert "5 MB" in err.value.message


def test_csv_that_is_really_a_workbook_is_refused(tmp_path):
    wb = openpyxl.Workbook()
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(ImportFileError) as err:
        read_table(write(tmp_path, "l.csv", buf.getvalue()), "l.csv")
    assert err.value.code == "unsupported_format"


def test_empty_csv_has_no_header(tmp_path):
    with pytest.raises(ImportFileError) as err:
        read_table(write(tmp_path, "l.csv", b"\n\n  \n"), "l.csv")
    assert err.value.code == "no_header"


def test_unknown_extension_is_unsupported(tmp_path):
    with pytest.raises(ImportFileError) as err:
        read_table(write(tmp_path, "l.txt", b"a\n"), "l.txt")
    assert err.value.code == "unsupported_format"


def xlsx_bytes(sheets: dict[str, list[list]], offset_rows: int = 0) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for _ in range(offset_rows):
            ws.append([])
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_first_sheet_typed_cells_and_row_numbers(tmp_path):
    data = xlsx_bytes(
        {
            "Leads": [
                ["E-mail", "Age", "Since", "Phone"],
                ["g@x.com", 41, dt.datetime(2024, 5, 1, 9, 30), 4915112345678],
            ],
            "Other": [["x"], ["y"]],
        },
        offset_rows=2,
    )
    table = read_table(write(tmp_path, "l.xlsx", data), "l.xlsx")
    assert table.sheet == "Leads"
    assert table.header == ["E-mail", "Age", "Since", "Phone"]
    [(row, values)] = rows_of(table)
    assert row == 4  # two blank rows, the header on row 3
    assert values[0] == "g@x.com"
    assert values[1] == 41
    assert values[2] == dt.datetime(2024, 5, 1, 9, 30)


def test_xlsx_named_sheet_is_read(tmp_path):
    data = xlsx_bytes({"First": [["a"], ["1"]], "Second": [["Email"], ["h@x.com"]]})
    table = read_table(write(tmp_path, "l.xlsx", data), "l.xlsx", sheet="Second")
    assert table.header == ["Email"]
    assert rows_of(table) == [(2, ["h@x.com"])]


def test_xlsx_missing_sheet_names_the_sheets_there(tmp_path):
    data = xlsx_bytes({"First": [["a"], ["1"]]})
    with pytest.raises(ImportFileError) as err:
        read_table(write(tmp_path, "l.xlsx", data), "l.xlsx", sheet="Nope")
    assert err.value.code == "sheet_not_found"
    assert "First" in err.value.message


def test_xls_binary_workbook_is_read(tmp_path):
    data = tiny_xls([["Email", "Score"], ["i@x.com", 7.5], ["j@x.com", 3]])
    table = read_table(write(tmp_path, "l.xls", data), "l.xls")
    assert table.header == ["Email", "Score"]
    assert rows_of(table) == [(2, ["i@x.com", 7.5]), (3, ["j@x.com", 3.0])]


def test_spreadsheet_with_a_cell_at_the_last_address_cannot_crash_the_importer(tmp_path):
    wb = openpyxl.Workbook()
    wb.active["A1"] = "Email"
    wb.active["XFD1048576"] = "x"
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(ImportFileError) as err:
        read_table(write(tmp_path, "bomb.xlsx", buf.getvalue()), "bomb.xlsx")
    assert err.value.code in ("unreadable", "too_many_columns", "too_many_rows")


def test_zip_bomb_workbook_is_refused_before_parsing(tmp_path):
    import zipfile

    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"A" * (50 * limits.MB))
    with pytest.raises(ImportFileError) as err:
        read_table(path, "bomb.xlsx")
    assert err.value.code == "too_large"


def test_garbage_named_xlsx_is_unreadable(tmp_path):
    with pytest.raises(ImportFileError) as err:
        read_table(write(tmp_path, "l.xlsx", b"PK\x03\x04 not really a zip"), "l.xlsx")
    assert err.value.code == "unreadable"


def test_spreadsheet_over_5_mb_fails_as_too_large(tmp_path):
    path = write(tmp_path, "l.xlsx", b"PK\x03\x04" + b"\0" * limits.MAX_TABULAR_BYTES)
    with pytest.raises(ImportFileError) as err:
        read_table(path, "l.xlsx")
    assert err.value.code == "too_large"


def test_parquet_is_typed_and_streamed_across_row_groups(tmp_path):
    table = pa.table(
        {
            "email": ["k@x.com", "l@x.com", "m@x.com"],
            "age": pa.array([30, None, 50], pa.int64()),
            "tags": [["a", "b"], [], None],
            "subscribed": [True, False, None],
        }
    )
    path = tmp_path / "l.parquet"
    pq.write_table(table, path, row_group_size=2)
    raw = read_table(path, "l.parquet")
    assert raw.header == ["email", "age", "tags", "subscribed"]
    assert rows_of(raw) == [
        (2, ["k@x.com", 30, ["a", "b"], True]),
        (3, ["l@x.com", None, [], False]),
        (4, ["m@x.com", 50, None, None]),
    ]


def test_parquet_is_read_one_row_group_at_a_time_never_whole(tmp_path, monkeypatch):
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"email": [f"p{i}@x.com" for i in range(30)]}), path, row_group_size=10)
    reads: list[list[int] | None] = []
    real_iter = pq.ParquetFile.iter_batches

    def recording(self, *args, **kwargs):
        reads.append(kwargs.get("row_groups"))
        return real_iter(self, *args, **kwargs)

    def whole_file(*args, **kwargs):
        raise AssertionError("the whole file was read at once")

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", recording)
    monkeypatch.setattr(pq.ParquetFile, "read", whole_file)
    monkeypatch.setattr(pq, "read_table", whole_file)
    raw = read_table(path, "big.parquet")
    assert reads == []  # lazy: nothing read until rows are taken
    first = next(raw.rows)
    assert first == (2, ["p0@x.com"]) and reads == [[0]]
    rest = list(raw.rows)
    assert len(rest) == 29 and reads == [[0], [1], [2]]


def test_parquet_struct_columns_are_refused(tmp_path):
    path = tmp_path / "l.parquet"
    pq.write_table(pa.table({"email": ["a@x.com"], "meta": [{"k": 1}]}), path)
    with pytest.raises(ImportFileError) as err:
        read_table(path, "l.parquet")
    assert err.value.code == "unsupported_format"


def test_damaged_parquet_is_unreadable(tmp_path):
    with pytest.raises(ImportFileError) as err:
        read_table(write(tmp_path, "l.parquet", b"PAR1 nonsense"), "l.parquet")
    assert err.value.code == "unreadable"


def tiny_xls(rows: list[list]) -> bytes:
    """A real BIFF8 workbook written by xlwt (what old Excel and many CRMs still export)."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
