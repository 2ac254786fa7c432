"""Event payloads and event files: validation, property folding, rejects by line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from audience.columnar import EVENTS_SCHEMA
from audience.imports.errors import ImportFileError
from audience.imports.event_files import read_event_file
from audience.imports.events import EventBatch
from pydantic import ValidationError


def one_chunk(path, name):
    chunks = list(read_event_file(path, name))
    assert len(chunks) == 1
    return chunks[0]


def test_batch_accepts_valid_events_and_normalises_time_to_utc():
    batch = EventBatch.model_validate(
        {
            "events": [
                {
                    "contact_id": "c1",
                    "event": "click",
                    "occurred_at": "2025-01-02T03:04:05+02:00",
                    "properties": {"url": "https://x", "n": 2, "ok": True, "ratio": 0.5},
                }
            ]
        }
    )
    event = batch.events[0]
    assert event.occurred_at == datetime(2025, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert event.property_strings() == {"url": "https://x", "n": "2", "ok": "true", "ratio": "0.5"}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"events": []}, ("events",)),
        (
            {"events": [{"contact_id": "c1", "event": "x", "occurred_at": "soon"}]},
            ("events", 0, "occurred_at"),
        ),
        (
            {
                "events": [
                    {
                        "contact_id": "c1",
                        "event": "x",
                        "occurred_at": "2025-01-01",
                        "properties": {"a": {"b": 1}},
                    }
                ]
            },
            ("events", 0, "properties", "a"),
        ),
        (
            {"events": [{"contact_id": "bad id", "event": "x", "occurred_at": "2025-01-01"}]},
            ("events", 0, "contact_id"),
        ),
        (
            {"events": [{"contact_id": "c", "event": "x", "occurred_at": "2025-01-01", "extra": 1}]},
            ("events", 0, "extra"),
        ),
    ],
)
def test_batch_rejects_bad_events_with_their_path(body, loc):
    with pytest.raises(ValidationError) as err:
        EventBatch.model_validate(body)
    assert tuple(err.value.errors()[0]["loc"][: len(loc)]) == loc


def test_batch_is_capped_at_500_events():
    event = {"contact_id": "c", "event": "x", "occurred_at": "2025-01-01T00:00:00Z"}
    EventBatch.model_validate({"events": [event] * 500})
    with pytest.raises(ValidationError):
        EventBatch.model_validate({"events": [event] * 501})


def test_jsonl_file_keeps_valid_lines_and_rejects_others_by_line(tmp_path):
    path = tmp_path / "e.jsonl"
    lines = [
        json.dumps(
            {
                "contact_id": "c1",
                "event": "open",
                "occurred_at": "2025-03-01T10:00:00Z",
                "properties": {"n": 1},
            }
        ),
        "{not json",
        "",
        json.dumps({"contact_id": "c2", "event": "click", "occurred_at": "2025-03-02"}),
        json.dumps({"contact_id": "c3", "event": "click"}),
    ]
    path.write_text("\n".join(lines))
    chunk = one_chunk(path, "e.jsonl")
    assert chunk.table.schema == EVENTS_SCHEMA
    assert chunk.table["contact_id"].to_pylist() == ["c1", "c2"]
    assert chunk.table["properties"].to_pylist()[0] == [("n", "1")]
    assert sorted({r.row for r in chunk.rejects}) == [2, 5]
    assert chunk.rows_read == 4


def test_csv_file_turns_extra_columns_and_json_properties_into_properties(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(
        "contact_id;event;occurred_at;campaign;properties\n"
        'c1;sent;2025-03-01T10:00:00Z;spring;"{""channel"": ""sms""}"\n'
        "c2;sent;2025-03-01T10:00:00Z;;not json\n"
    )
    chunk = one_chunk(path, "e.csv")
    assert chunk.table["properties"].to_pylist() == [[("campaign", "spring"), ("channel", "sms")]]
    assert [r.row for r in chunk.rejects] == [3]


def test_csv_event_file_without_required_columns_fails(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("contact,what\nc1,x\n")
    with pytest.raises(ImportFileError) as err:
        list(read_event_file(path, "e.csv"))
    assert "contact_id" in err.value.message


def test_parquet_event_file_with_map_properties_and_typed_time(tmp_path):
    table = pa.table(
        {
            "contact_id": ["c1", "c2"],
            "event": ["purchase", "purchase"],
            "occurred_at": pa.array(
                [datetime(2025, 3, 1, 8, 0), datetime(2025, 3, 2, 9, 0)], pa.timestamp("ms")
            ),
            "properties": pa.array([[("amount", "10")], None], pa.map_(pa.string(), pa.string())),
            "store": ["berlin", "paris"],
        }
    )
    path = tmp_path / "e.parquet"
    pq.write_table(table, path)
    chunk = one_chunk(path, "e.parquet")
    assert chunk.rejects == []
    assert chunk.table["occurred_at"].to_pylist()[1] == datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
    assert chunk.table["properties"].to_pylist() == [
        [("store", "berlin"), ("amount", "10")],
        [("store", "paris")],
    ]


def test_unknown_event_file_extension_is_refused(tmp_path):
    path = tmp_path / "e.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(ImportFileError):
        list(read_event_file(path, "e.xlsx"))
