"""JSON Lines: one contact object per line with exactly the selected keys (``null`` when empty,
``[]`` for an empty list), values as stored (numbers, booleans, ISO dates, lists)
— for scripts and data tools."""

from __future__ import annotations

import json
from collections.abc import Sequence

from audience.exports.cells import is_empty
from audience.exports.writers.base import ExportWriter, Row
from audience.fields import FieldType


class JsonlWriter(ExportWriter):
    def write_rows(self, rows: Sequence[Row]) -> int:
        lines = []
        for row in rows:
            record = {}
            for name in self.columns:
                value = row.get(name)
                if is_empty(value):
                    value = [] if self.types[name] is FieldType.LIST else None
                record[name] = value
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str))
        if lines:
            self.sink.write(("\n".join(lines) + "\n").encode("utf-8"))
        return len(rows)
