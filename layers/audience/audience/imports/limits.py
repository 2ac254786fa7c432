"""Caps that keep a hostile upload from exhausting the importer (documented in docs/imports.md)."""

from __future__ import annotations

MB = 1024 * 1024

# CSV and spreadsheets above this fail the job (SPEC §4); the presigned upload enforces it too.
MAX_TABULAR_BYTES = 5 * MB
# Parquet is typed and streamed one row group at a time, so it may be larger.
MAX_PARQUET_BYTES = 200 * MB
# Event files (.csv/.jsonl/.parquet) appended to the event log.
MAX_EVENT_FILE_BYTES = 200 * MB

MAX_ROWS = 1_000_000
MAX_COLUMNS = 500
MAX_CELL_CHARS = 10_000
MAX_HEADER_CHARS = 200

# Spreadsheet bombs: an .xlsx is a zip; its inflated size and the reader's memory are both bounded.
MAX_SPREADSHEET_INFLATED_BYTES = 200 * MB
MAX_SPREADSHEET_COMPRESSION_RATIO = 200
SPREADSHEET_WORKER_MEMORY_BYTES = 1536 * MB
SPREADSHEET_WORKER_TIMEOUT_SECONDS = 120

# Parquet row groups larger than this are refused (streaming would not bound memory).
MAX_PARQUET_ROW_GROUP_ROWS = 1_000_000
