"""One writer per export format, all with the same shape: header on construction, ``write_rows``
(dicts) or ``write_batch`` (an Arrow record batch) for each page of contacts, ``close`` to finish
the file. Writers only ever see a page at a time and write into a binary sink (the S3 multipart
upload), so memory stays flat however big the segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from audience.exports.writers.base import ExportWriter, Row
from audience.fields import FieldCatalog

__all__ = ["ExportWriter", "Row", "open_writer"]


def open_writer(
    export_format: str, sink: BinaryIO, columns: Sequence[str], catalog: FieldCatalog, *, action_column: bool = False
) -> ExportWriter:
    """The writer for ``export_format`` (imported lazily: pyarrow and openpyxl load only when used);
    ``action_column``: a delta file (audience_sha256 with ``changes_since``)."""
    if export_format == "csv":
        from audience.exports.writers.csv_writer import CsvWriter

        return CsvWriter(sink, columns, catalog)
    if export_format == "xlsx":
        from audience.exports.writers.xlsx_writer import XlsxWriter

        return XlsxWriter(sink, columns, catalog)
    if export_format == "parquet":
        from audience.exports.writers.parquet_writer import ParquetWriter

        return ParquetWriter(sink, columns, catalog)
    if export_format == "jsonl":
        from audience.exports.writers.jsonl_writer import JsonlWriter

        return JsonlWriter(sink, columns, catalog)
    if export_format == "audience_sha256":
        from audience.exports.writers.audience_sha256 import AudienceSha256Writer

        return AudienceSha256Writer(sink, columns, catalog, action_column=action_column)
    raise ValueError(f"unknown export format {export_format!r}")
