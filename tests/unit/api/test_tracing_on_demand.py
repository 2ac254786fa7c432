"""X-Ray tracing is configured, not paid for by default: `audience.tracing.traced` wraps a handler in
Powertools' Tracer only in Lambda with POWERTOOLS_TRACE_DISABLED explicitly false, and only on the
first invocation (so importing a handler never loads aws_xray_sdk)."""

from __future__ import annotations

import aws_lambda_powertools
import pytest
from audience.tracing import traced, tracing_enabled


@pytest.mark.parametrize(("environ", "enabled"), [
    ({}, False),
    ({"LAMBDA_TASK_ROOT": "/var/task"}, False),
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "0"}, True),
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false", "AWS_SAM_LOCAL": "true"}, False),
    ({"POWERTOOLS_TRACE_DISABLED": "false"}, False),
])
def test_tracing_runs_only_in_lambda_when_switched_on(environ, enabled):
    assert tracing_enabled(environ) is enabled


class _RecordingTracer:
    built = 0

    def __init__(self) -> None:
        type(self).built += 1

    def capture_lambda_handler(self, handler):
        def wrapped(event, context):
            return ("traced", handler(event, context))
        return wrapped


@pytest.fixture
def recording_tracer(monkeypatch):
    _RecordingTracer.built = 0
    monkeypatch.setattr(aws_lambda_powertools, "Tracer", _RecordingTracer)
    return _RecordingTracer


def test_a_traced_handler_builds_one_tracer_on_its_first_call_when_tracing_is_on(monkeypatch, recording_tracer):
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    handler = traced(lambda event, context: event["n"] + 1)
    assert recording_tracer.built == 0
    assert handler({"n": 1}, None) == ("traced", 2)
    assert handler({"n": 2}, None) == ("traced", 3)
    assert recording_tracer.built == 1


def test_a_traced_handler_runs_untouched_when_tracing_is_off(monkeypatch, recording_tracer):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    handler = traced(lambda event, context: event["n"] + 1)
    assert handler({"n": 1}, None) == 2
    assert recording_tracer.built == 0
