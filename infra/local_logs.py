"""Terminal-friendly logs for the local stack.

Functions log structured JSON through Powertools (right for CloudWatch, hard to read in a terminal).
`ReadableStream` wraps stdout: each complete line that is a Powertools JSON record is rewritten as
`HH:MM:SS LEVEL  service  message  key=value ...`; anything else passes through untouched.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time
from typing import Any, TextIO

_STANDARD_KEYS = {
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "sampling_rate",
    "xray_trace_id",
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
}
_COLOURS = {
    "DEBUG": "\033[2m",
    "INFO": "\033[36m",
    "WARNING": "\033[33m",
    "ERROR": "\033[31m",
    "CRITICAL": "\033[31;1m",
}
_RESET = "\033[0m"


def format_record(record: dict[str, Any], colour: bool = False) -> str:
    level = str(record.get("level", "INFO"))
    timestamp = str(record.get("timestamp", ""))
    clock = timestamp[11:19] if len(timestamp) >= 19 else timestamp
    extras = []
    for key, value in record.items():
        if key in _STANDARD_KEYS or key == "exception" or key == "exception_name" or key == "stack_trace":
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        extras.append(f"{key}={text}")
    message = record.get("message")
    message = message if isinstance(message, str) else json.dumps(message, default=str)
    level_text = f"{_COLOURS.get(level, '')}{level:<7}{_RESET}" if colour else f"{level:<7}"
    line = f"{clock} {level_text} {record.get('service', '-'):<12} {message}"
    if extras:
        line += "  " + " ".join(extras)
    if record.get("exception"):
        line += "\n" + str(record["exception"])
    return line


def format_metrics(record: dict[str, Any]) -> str:
    """An EMF metrics blob (Powertools Metrics) as one short line."""
    names = [m["Name"] for d in record["_aws"].get("CloudWatchMetrics", []) for m in d.get("Metrics", [])]
    values = " ".join(f"{name}={record.get(name)}" for name in names)
    timestamp = record["_aws"].get("Timestamp")
    clock = time.strftime("%H:%M:%S", time.localtime(timestamp / 1000)) if timestamp else ""
    return f"{clock} METRIC  {record.get('service', '-'):<12} {values}"


class ReadableStream(io.TextIOBase):
    """A stdout replacement that pretty-prints Powertools JSON log lines."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.colour = target.isatty()
        self._buffer = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            while "\n" in self._buffer:
                line, self._buffer = self._buffer.split("\n", 1)
                self.target.write(self._render(line) + "\n")
            self.target.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._buffer:
                self.target.write(self._buffer)
                self._buffer = ""
            self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def _render(self, line: str) -> str:
        if not line.startswith("{"):
            return line
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return line
        if isinstance(record, dict) and "_aws" in record:
            return format_metrics(record)
        if not isinstance(record, dict) or "level" not in record or "message" not in record:
            return line
        return format_record(record, self.colour)


def configure(verbose: bool = False) -> None:
    """Readable stdout for functions, a compact format for the stack's own logger, quiet libraries."""
    if not isinstance(sys.stdout, ReadableStream):
        sys.stdout = ReadableStream(sys.stdout)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)-12s %(message)s", "%H:%M:%S"))
    stack = logging.getLogger("localstack")
    stack.handlers[:] = [handler]
    stack.setLevel(logging.DEBUG if verbose else logging.INFO)
    stack.propagate = False
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "moto", "pynamodb", "samtranslator"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
