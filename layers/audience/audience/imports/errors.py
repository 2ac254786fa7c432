"""Errors of the import pipeline that fail a whole file (as opposed to rejecting one row)."""

from __future__ import annotations


class ImportFileError(Exception):
    """The file as a whole cannot be imported; ``code`` is stable, ``message`` is for people.

    Codes: ``too_large`` (the 413-like case of SPEC §4), ``unsupported_format``, ``unreadable``,
    ``too_many_rows``, ``too_many_columns``, ``no_header``, ``sheet_not_found``, ``invalid_mapping``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
