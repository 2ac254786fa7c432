"""The one shape every reader produces: a header and numbered rows of raw cell values."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# A row as the person sees it in their tool: 1-based, the header being row 1.
Row = tuple[int, list[Any]]


@dataclass
class RawTable:
    """Header names as written in the file and a lazy stream of rows (at least as wide as the header).

    Cell values are ``str`` for CSV and typed (int, float, bool, date, datetime, list...) for
    spreadsheets and Parquet; ``None`` or ``""`` mean empty. A row may be longer than the header
    (values beyond it are reported by the validator), never shorter.
    """

    header: list[str]
    rows: Iterator[Row]
    format: str
    sheet: str | None = None
