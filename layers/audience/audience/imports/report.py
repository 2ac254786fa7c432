"""The rejected-rows report: a CSV people open in a spreadsheet, so cells that a spreadsheet would
run as a formula are neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from audience.imports.rows import RejectRecord

REPORT_HEADER = ("row", "column", "value", "reason")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class RejectReport:
    """Accumulates reject lines as CSV text (UTF-8 with BOM so Excel reads accents right)."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._writer.writerow(REPORT_HEADER)
        self.lines = 0
        self.rows: set[int] = set()

    def add(self, records: Iterable[RejectRecord]) -> None:
        for record in records:
            self._writer.writerow(
                [record.row, neutralise(record.column), neutralise(record.value), neutralise(record.reason)]
            )
            self.lines += 1
            if record.row > 1:
                self.rows.add(record.row)

    def to_bytes(self) -> bytes:
        return ("\ufeff" + self._buffer.getvalue()).encode("utf-8")
