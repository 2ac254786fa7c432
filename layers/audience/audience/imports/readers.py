"""Pick the reader by file extension; every reader yields the same RawTable."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from audience.imports.errors import ImportFileError
from audience.imports.table import RawTable

CONTACT_FORMATS = (".csv", ".xlsx", ".xls", ".parquet")


def extension(file_name: str) -> str:
    return PurePosixPath(file_name).suffix.lower()


def read_table(path: Path, file_name: str, sheet: str | None = None) -> RawTable:
    ext = extension(file_name)
    if ext == ".csv":
        from audience.imports.csv_reader import read_csv

        return read_csv(path)
    if ext in (".xlsx", ".xls"):
        from audience.imports.spreadsheet_reader import read_spreadsheet

        return read_spreadsheet(path, sheet)
    if ext == ".parquet":
        from audience.imports.parquet_reader import read_parquet

        return read_parquet(path)
    raise ImportFileError("unsupported_format", f"{file_name!r}: supported formats are {', '.join(CONTACT_FORMATS)}")
