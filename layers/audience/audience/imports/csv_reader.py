"""CSV as people export it: UTF-8 (BOM or not), UTF-16 from Excel, cp1252 from older tools; the
delimiter is whichever of ``,`` ``;`` tab ``|`` splits the first lines most consistently.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from audience.imports.errors import ImportFileError
from audience.imports.limits import MAX_COLUMNS, MAX_ROWS, MAX_TABULAR_BYTES
from audience.imports.table import RawTable, Row

DELIMITERS = (",", ";", "\t", "|")
SNIFF_LINES = 50


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding used. latin-1 is never tried: it accepts every byte and garbles silently."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise ImportFileError("unreadable", "the file claims UTF-16 but is not valid UTF-16") from exc
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ImportFileError("unreadable", "the file is neither UTF-8 nor Windows-1252 (cp1252) text")


def sniff_delimiter(text: str) -> str:
    """The delimiter that gives the most columns while keeping the sampled lines consistent."""
    sample_lines = [line for line in text.splitlines()[: SNIFF_LINES * 2] if line.strip()][:SNIFF_LINES]
    if not sample_lines:
        return ","
    sample = "\n".join(sample_lines)
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        header_width = widths[0]
        consistency = Counter(widths)[header_width] / len(widths)
        score = (round(consistency, 2), header_width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(path: Path) -> RawTable:
    size = path.stat().st_size
    if size > MAX_TABULAR_BYTES:
        raise ImportFileError(
            "too_large",
            f"CSV files are limited to {MAX_TABULAR_BYTES // (1024 * 1024)} MB; this one is {size} bytes",
        )
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            "unsupported_format", "this is a spreadsheet saved with a .csv name; upload it as .xlsx/.xls"
        )
    text, _encoding = decode(data)
    if "\x00" in text:
        raise ImportFileError("unreadable", "the file contains binary data (NUL bytes), not CSV text")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = _first_nonblank(reader)
    if header is None:
        raise ImportFileError("no_header", "the file is empty: a header row naming the columns is required")
    header = [h.strip() for h in header]
    if len(header) > MAX_COLUMNS:
        raise ImportFileError("too_many_columns", f"{len(header)} columns; at most {MAX_COLUMNS} are accepted")
    return RawTable(header=header, rows=_rows(reader, len(header)), format="csv")


def _first_nonblank(reader) -> list[str] | None:
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                return record
    except csv.Error as exc:
        raise ImportFileError("unreadable", f"malformed CSV near line {reader.line_num}: {exc}") from exc
    return None


def _rows(reader, width: int) -> Iterator[Row]:
    row_number = 1
    try:
        for record in reader:
            row_number += 1
            if row_number - 1 > MAX_ROWS:
                raise ImportFileError("too_many_rows", f"more than {MAX_ROWS} data rows")
            yield row_number, pad(record, width)
    except csv.Error as exc:
        raise ImportFileError("unreadable", f"malformed CSV at row {row_number + 1}: {exc}") from exc


def pad(record: list, width: int) -> list:
    """Pad short rows to the header's width; longer rows stay long so the validator can report them."""
    if len(record) >= width:
        return list(record)
    return list(record) + [""] * (width - len(record))
