"""X-Ray tracing of a Lambda handler only when it is configured, and never paid at import.

Powertools' `Tracer()` imports and patches `aws_xray_sdk` when it is built (~90 ms of a cold
start), even when tracing ends up disabled. `traced` leaves the handler untouched unless tracing
is switched on (`POWERTOOLS_TRACE_DISABLED` set to a false value, in Lambda), and then builds the
Tracer on the first invocation, so importing a handler module never loads the X-Ray SDK.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

_FALSE = ("0", "false", "no", "off")


def tracing_enabled(environ: dict[str, str] | None = None) -> bool:
    """Tracing runs only in Lambda and only when POWERTOOLS_TRACE_DISABLED is explicitly false."""
    env = os.environ if environ is None else environ
    switch = env.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower()
    return switch in _FALSE and bool(env.get("LAMBDA_TASK_ROOT")) and not env.get("AWS_SAM_LOCAL")


def traced(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`handler`, wrapped in Powertools' `capture_lambda_handler` on its first call if tracing is on."""
    wrapped: list[Callable[[Any, Any], Any]] = []

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        if not wrapped:
            if tracing_enabled():
                from aws_lambda_powertools import Tracer

                wrapped.append(Tracer().capture_lambda_handler(handler))
            else:
                wrapped.append(handler)
        return wrapped[0](event, context)

    return run
