""".xlsx and .xls through python-calamine, parsed in a memory-limited child process.

Bombs are bounded three ways: the 5 MB upload cap, the zip's inflated size and ratio (checked here
before any parsing), and the child's address-space limit (a hostile used range kills the child,
never the importer).
"""

from __future__ import annotations

import os
import pickle
import resource
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

from audience.imports import spreadsheet_worker
from audience.imports.csv_reader import pad
from audience.imports.errors import ImportFileError
from audience.imports.limits import (
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_SPREADSHEET_COMPRESSION_RATIO,
    MAX_SPREADSHEET_INFLATED_BYTES,
    MAX_TABULAR_BYTES,
    SPREADSHEET_WORKER_MEMORY_BYTES,
    SPREADSHEET_WORKER_TIMEOUT_SECONDS,
)
from audience.imports.table import RawTable, Row

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_spreadsheet(path: Path, sheet: str | None = None) -> RawTable:
    size = path.stat().st_size
    if size > MAX_TABULAR_BYTES:
        raise ImportFileError(
            "too_large",
            f"spreadsheets are limited to {MAX_TABULAR_BYTES // (1024 * 1024)} MB; this one is {size} bytes",
        )
    data = path.read_bytes()
    if data.startswith(ZIP_MAGIC):
        check_zip_bomb(path)
    elif not data.startswith(OLE_MAGIC):
        raise ImportFileError("unreadable", "not an .xlsx or .xls workbook (unrecognised file signature)")
    result = _parse_in_child(data, sheet or "")
    if not result["ok"]:
        raise ImportFileError(result["code"], result["message"])
    rows: list[list] = result["rows"]
    first_row: int = result["first_row"]
    header_index = next((i for i, r in enumerate(rows) if any(_present(c) for c in r)), None)
    if header_index is None:
        raise ImportFileError("no_header", f"sheet {result['sheet']!r} is empty: a header row is required")
    header = [_header_text(c) for c in rows[header_index]]
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise ImportFileError("too_many_columns", f"{len(header)} columns; at most {MAX_COLUMNS} are accepted")
    body = rows[header_index + 1 :]
    start = first_row + header_index + 1
    return RawTable(
        header=header, rows=_numbered(body, start, len(header)), format="spreadsheet", sheet=result["sheet"]
    )


def check_zip_bomb(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ImportFileError("unreadable", f"the workbook is a damaged zip archive: {exc}") from exc
    inflated = sum(i.file_size for i in infos)
    compressed = max(1, sum(i.compress_size for i in infos))
    if inflated > MAX_SPREADSHEET_INFLATED_BYTES:
        raise ImportFileError(
            "too_large",
            f"the workbook inflates to {inflated} bytes; at most {MAX_SPREADSHEET_INFLATED_BYTES} are read",
        )
    if inflated / compressed > MAX_SPREADSHEET_COMPRESSION_RATIO:
        raise ImportFileError("too_large", "the workbook is compressed beyond any real spreadsheet (a zip bomb?)")


def _limit_child_memory() -> None:  # runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_AS, (SPREADSHEET_WORKER_MEMORY_BYTES, SPREADSHEET_WORKER_MEMORY_BYTES))


def _parse_in_child(data: bytes, sheet: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "RUST_BACKTRACE": "0"}
    try:
        proc = subprocess.run(
            [sys.executable, spreadsheet_worker.__file__, sheet, str(MAX_ROWS), str(MAX_COLUMNS)],
            input=data,
            capture_output=True,
            timeout=SPREADSHEET_WORKER_TIMEOUT_SECONDS,
            preexec_fn=_limit_child_memory,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ImportFileError(
            "unreadable", f"the workbook took longer than {SPREADSHEET_WORKER_TIMEOUT_SECONDS}s to parse"
        ) from exc
    if proc.returncode != 0 or not proc.stdout:
        raise ImportFileError(
            "unreadable",
            "the workbook could not be parsed within the memory limit "
            "(its used range is far larger than its data, or it is malformed)",
        )
    return pickle.loads(proc.stdout)  # noqa: S301 - produced by our own child process


def _present(value) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _header_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _numbered(body: list[list], start: int, width: int) -> Iterator[Row]:
    for offset, record in enumerate(body):
        yield start + offset, pad(record, width)
