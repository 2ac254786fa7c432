"""A real Excel workbook, written streaming with openpyxl's write-only mode.

Write-only mode keeps each sheet's XML in a temporary file (not in memory) and writes strings inline
(no shared-string table growing with the row count), so memory stays flat; the zip is assembled into
the sink when the writer closes. Cells are typed: numbers, booleans, dates and datetimes (UTC, as
Excel has no time zones) stay what they are. Text is neutralised against formula injection — openpyxl
would otherwise write any string starting with ``=`` as a live formula. A sheet holds at most
1,048,576 rows, so bigger exports continue on ``Contacts (2)``, ``Contacts (3)``, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from audience.exports.cells import as_text, is_empty, neutralise_formula
from audience.exports.writers.base import ExportWriter, Row
from audience.fields import FieldType

SHEET_TITLE = "Contacts"
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767


class XlsxWriter(ExportWriter):
    def __init__(self, sink, columns, catalog, *, max_rows_per_sheet: int = EXCEL_MAX_ROWS) -> None:
        super().__init__(sink, columns, catalog)
        self._workbook = Workbook(write_only=True)
        self._max_rows = max_rows_per_sheet
        self._sheets = 0
        self._rows_in_sheet = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self._sheets += 1
        title = SHEET_TITLE if self._sheets == 1 else f"{SHEET_TITLE} ({self._sheets})"
        self._sheet = self._workbook.create_sheet(title)
        self._sheet.freeze_panes = "A2"
        header = []
        for name in self.columns:
            cell = WriteOnlyCell(self._sheet, value=name)
            cell.font = Font(bold=True)
            header.append(cell)
        self._sheet.append(header)
        self._rows_in_sheet = 1

    def write_rows(self, rows: Sequence[Row]) -> int:
        for row in rows:
            if self._rows_in_sheet >= self._max_rows:
                self._new_sheet()
            self._sheet.append([self._cell(name, row.get(name)) for name in self.columns])
            self._rows_in_sheet += 1
        return len(rows)

    def _cell(self, name: str, value: Any) -> Any:
        if is_empty(value):
            return None
        kind = self.types[name]
        try:
            if kind is FieldType.NUMBER and isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
            if kind is FieldType.BOOLEAN and isinstance(value, bool):
                return value
            # openpyxl gives dates "yyyy-mm-dd" and datetimes "yyyy-mm-dd h:mm:ss" formats itself.
            if kind is FieldType.DATE:
                return date.fromisoformat(str(value)[:10])
            if kind is FieldType.DATETIME:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
                return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment
        except ValueError:
            pass  # a stored value that does not parse as its type is exported as its text
        return text_cell(as_text(value, kind))

    def close(self) -> None:
        self._workbook.save(self.sink)


def text_cell(text: str) -> str:
    """Text Excel can store, neutralised: it never starts with ``=``, so openpyxl writes a string
    cell (plain values, not cell objects, keep write-only mode fast)."""
    return neutralise_formula(ILLEGAL_CHARACTERS_RE.sub("", text))[:EXCEL_MAX_CELL_CHARS]
