"""CSV for spreadsheets: UTF-8 with a byte-order mark (without it Excel reads UTF-8 as the local
ANSI code page and garbles accents), Excel's dialect (comma, ``"`` quoting, CRLF), formula cells
neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from audience.exports.cells import as_text, is_text_type, neutralise_formula
from audience.exports.writers import ExportWriter, Row

BOM = "\ufeff"


class CsvWriter(ExportWriter):
    def __init__(self, sink, columns, catalog) -> None:
        super().__init__(sink, columns, catalog)
        self._text_columns = {name for name, kind in self.types.items() if is_text_type(kind)}
        self._emit([self.columns], prefix=BOM)

    def write_rows(self, rows: Sequence[Row]) -> int:
        self._emit([self._cells(row) for row in rows])
        return len(rows)

    def _cells(self, row: Row) -> list[str]:
        cells = []
        for name in self.columns:
            text = as_text(row.get(name), self.types[name])
            cells.append(neutralise_formula(text) if name in self._text_columns else text)
        return cells

    def _emit(self, lines: list[list[str]], prefix: str = "") -> None:
        buffer = io.StringIO()
        buffer.write(prefix)
        csv.writer(buffer, dialect="excel").writerows(lines)
        self.sink.write(buffer.getvalue().encode("utf-8"))
