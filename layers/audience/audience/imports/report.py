"""The import report: one CSV people open in a spreadsheet, with rejected rows and dropped values
side by side (``action``), so cells a spreadsheet would run as a formula are neutralised.

Each chunk of a job writes its own part (CSV lines, no header); the job's last chunk assembles them
in chunk order under one header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from audience.imports.rows import ROW_REJECTED, VALUE_DROPPED, RejectRecord

REPORT_HEADER = ("row", "column", "value", "reason", "action")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class RejectReport:
    """Accumulates report lines as CSV text and which rows were rejected or lost a value."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self.lines = 0
        self.rows: set[int] = set()  # rejected rows
        self._dropped: set[int] = set()

    def add(self, records: Iterable[RejectRecord]) -> None:
        for record in records:
            self._writer.writerow(
                [
                    record.row,
                    neutralise(record.column),
                    neutralise(record.value),
                    neutralise(record.reason),
                    record.action,
                ]
            )
            self.lines += 1
            if record.row > 1 and record.action == ROW_REJECTED:
                self.rows.add(record.row)
            elif record.action == VALUE_DROPPED:
                self._dropped.add(record.row)

    @property
    def rows_with_dropped_values(self) -> set[int]:
        """Imported rows that lost at least one value (a row rejected later counts as rejected)."""
        return self._dropped - self.rows

    def part(self) -> str:
        """The lines without a header: one chunk's part of the job's report."""
        return self._buffer.getvalue()

    def to_bytes(self) -> bytes:
        return assemble([self.part()])


def assemble(parts: Iterable[str]) -> bytes:
    """The whole report: UTF-8 with BOM (Excel reads accents right), the header, the parts in order."""
    header = io.StringIO()
    csv.writer(header, lineterminator="\r\n").writerow(REPORT_HEADER)
    return (BOM + header.getvalue() + "".join(parts)).encode("utf-8")
