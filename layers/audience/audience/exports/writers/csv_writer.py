"""CSV for spreadsheets: UTF-8 with a byte-order mark (without it Excel reads UTF-8 as the local
ANSI code page and garbles accents), Excel's dialect (comma, ``"`` quoting, CRLF), formula cells
neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from audience.exports.cells import as_text, is_text_type, neutralise_formula
from audience.exports.writers.base import ExportWriter, Row

BOM = "\ufeff"


class CsvWriter(ExportWriter):
    def __init__(self, sink, columns, catalog) -> None:
        super().__init__(sink, columns, catalog)
        self._text_columns = {name for name, kind in self.types.items() if is_text_type(kind)}
        self._emit([self.columns], prefix=BOM)

    def write_rows(self, rows: Sequence[Row]) -> int:
        self._emit([self._cells(row) for row in rows])
        return len(rows)

    def write_batch(self, batch) -> int:
        """The whole batch as CSV text built with Arrow kernels (``arrow_cells.csv_lines``): the same
        characters as ``write_rows`` (Excel dialect, minimal quoting, CRLF), without a Python call per cell."""
        from audience.exports.arrow_cells import csv_lines, neutralised, text_column

        if not batch.num_rows:
            return 0
        texts = []
        for name in self.columns:
            index = batch.schema.get_field_index(name)
            if index < 0:
                texts.append(None)
                continue
            text = text_column(batch.column(index), self.types[name])
            texts.append(neutralised(text) if name in self._text_columns else text)
        self.sink.write(csv_lines(texts, batch.num_rows))
        return batch.num_rows

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
