"""Activity event files (.jsonl, .csv, .parquet) -> validated chunks of the event log.

Columns/keys ``contact_id``, ``event``, ``occurred_at`` are required; a ``properties`` object (JSON
text in CSV) and any other column become properties. Invalid lines are rejected with their line
number; valid ones are kept.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from audience.eventlog import events_table
from audience.imports.csv_reader import decode, sniff_delimiter
from audience.imports.errors import ImportFileError
from audience.imports.events import ActivityEvent
from audience.imports.limits import MAX_EVENT_FILE_BYTES, MAX_TABULAR_BYTES
from audience.imports.parquet_reader import open_parquet
from audience.imports.readers import extension
from audience.imports.rows import RejectRecord, shown

EVENT_FORMATS = (".jsonl", ".csv", ".parquet")
CHUNK_ROWS = 50_000
REQUIRED = ("contact_id", "event", "occurred_at")


@dataclass
class EventChunk:
    table: pa.Table
    rejects: list[RejectRecord]
    rows_read: int


def read_event_file(path: Path, file_name: str) -> Iterator[EventChunk]:
    ext = extension(file_name)
    if ext not in EVENT_FORMATS:
        raise ImportFileError("unsupported_format", f"event files must be one of {', '.join(EVENT_FORMATS)}")
    cap = MAX_TABULAR_BYTES if ext == ".csv" else MAX_EVENT_FILE_BYTES
    if path.stat().st_size > cap:
        raise ImportFileError("too_large", f"{ext} event files are limited to {cap // (1024 * 1024)} MB")
    records = {".jsonl": _jsonl_records, ".csv": _csv_records, ".parquet": _parquet_records}[ext](path)
    yield from _chunks(records)


def _chunks(records: Iterator[tuple[int, Any]]) -> Iterator[EventChunk]:
    rows, rejects, read = [], [], 0
    for line, record in records:
        read += 1
        event = validate_event(line, record, rejects)
        if event is not None:
            rows.append((event.contact_id, event.event, event.occurred_at, event.property_strings()))
        if read % CHUNK_ROWS == 0:
            yield EventChunk(events_table(rows), rejects, read)
            rows, rejects, read = [], [], 0
    if read:
        yield EventChunk(events_table(rows), rejects, read)


def validate_event(line: int, record: Any, rejects: list[RejectRecord]) -> ActivityEvent | None:
    if not isinstance(record, dict):
        rejects.append(RejectRecord(line, "", shown(record), "not a JSON object"))
        return None
    try:
        return ActivityEvent.model_validate(record)
    except ValidationError as exc:
        for error in exc.errors():
            column = "/".join(str(p) for p in error["loc"])
            value = record.get(str(error["loc"][0])) if error["loc"] else None
            rejects.append(RejectRecord(line, column, shown(value), error["msg"]))
        return None


def _jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield number, f"invalid JSON: {exc}"


def _csv_records(path: Path) -> Iterator[tuple[int, Any]]:
    text, _ = decode(path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportFileError("no_header", f"event CSV files need the columns {', '.join(missing)}")
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        yield number, _record(dict(zip(header, values, strict=False)), number)


def _parquet_records(path: Path) -> Iterator[tuple[int, Any]]:
    parquet = open_parquet(path, MAX_EVENT_FILE_BYTES)
    missing = [c for c in REQUIRED if c not in parquet.schema_arrow.names]
    if missing:
        raise ImportFileError("no_header", f"event Parquet files need the columns {', '.join(missing)}")
    number = 1
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, use_threads=False):
        for row in batch.to_pylist():
            number += 1
            yield number, _record(row, number)


def _record(row: dict[str, Any], number: int) -> Any:
    """Fold ``properties`` (object, map as pairs, or JSON text) and extra columns into properties."""
    base = {k: row.get(k) for k in REQUIRED}
    properties = row.get("properties")
    if isinstance(properties, str):
        text = properties.strip()
        # Text that is not JSON stays text: validation then rejects it as "not an object".
        with contextlib.suppress(json.JSONDecodeError):
            properties = json.loads(text) if text else {}
    elif isinstance(properties, list):  # an Arrow map arrives as [(key, value), ...]
        properties = dict(properties)
    elif properties is None:
        properties = {}
    if isinstance(properties, dict):
        extras = {k: v for k, v in row.items() if k not in REQUIRED and k != "properties" and v not in (None, "")}
        properties = {**extras, **properties}
    base["properties"] = properties
    return base
