"""Run the template's Lambda functions in this process, each loaded in isolation.

Every function's entry module is `app.py`, so they cannot all be imported as `app`: each is loaded
under a unique module name with its own directory first on `sys.path` only while it imports, and the
helper modules it brought from that directory are taken out of `sys.modules` again so the next
function's same-named helpers do not collide. An execution environment is one loaded copy of the
module and runs one invocation at a time, like Lambda's: Powertools resolvers keep the current event on
a module global. A function whose queue allows concurrent invocations (ScalingConfig
MaximumConcurrency) gets up to ``concurrent_environments`` copies, loaded on demand, as Lambda runs
concurrent invocations in separate environments.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from infra.template_resources import EventSpec, FunctionSpec, LocalResources

log = logging.getLogger("localstack")


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that Powertools and handlers read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One template function: its module loaded on first use, each loaded copy (an execution
    environment) running one invocation at a time."""

    def __init__(self, spec: FunctionSpec, resources: LocalResources, environments: int = 1) -> None:
        self.spec = spec
        self.resources = resources
        self.environments = max(1, environments)
        self._module: ModuleType | None = None
        self._load_lock = threading.Lock()
        self._slots = threading.Semaphore(self.environments)  # invocations running at once
        self._idle: list[ModuleType] = []  # environments loaded and not running an invocation
        self._loaded = 0

    @property
    def name(self) -> str:
        return self.spec.logical_id

    @property
    def available(self) -> bool:
        return self.spec.module_file.is_file()

    def load(self) -> ModuleType:
        """The first environment's module (loading it at start-up keeps the first request fast)."""
        with self._load_lock:
            if self._module is None:
                self._module = self._load_copy()
                self._idle.append(self._module)
            return self._module

    def _load_copy(self) -> ModuleType:
        suffix = f"_{self._loaded}" if self._loaded else ""
        with _environment(self.resources.env(self.name)):
            module = load_isolated(self.spec.module_file, f"localfn_{self.name}{suffix}")
        self._loaded += 1
        return module

    def _take_environment(self) -> ModuleType:
        self.load()
        with self._load_lock:
            if self._idle:
                return self._idle.pop()
            return self._load_copy()  # all loaded ones are busy, and a slot is free: a new one

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with `event` and a fresh context; exceptions propagate (the caller decides)."""
        context = LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.spec.memory_size,
            invoked_function_arn=(
                f"arn:aws:lambda:{self.resources.region}:{self.resources.account_id}:function:{self.name}"
            ),
            aws_request_id=str(uuid.uuid4()),
            timeout_seconds=self.spec.timeout,
        )
        with self._slots:
            module = self._take_environment()
            started = time.monotonic()
            try:
                return getattr(module, self.spec.handler_name)(event, context)
            finally:
                with self._load_lock:
                    self._idle.append(module)
                elapsed = time.monotonic() - started
                if elapsed > self.spec.timeout:
                    log.warning(
                        "%s ran %.1fs, over its %ss timeout (not enforced locally)",
                        self.name,
                        elapsed,
                        self.spec.timeout,
                    )


def load_isolated(module_file: Path, unique_name: str) -> ModuleType:
    """Import `module_file` as `unique_name`, with its directory importable only during the import."""
    directory = str(module_file.parent)
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location(unique_name, module_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {module_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique_name] = module
    sys.path.insert(0, directory)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(unique_name, None)
        raise
    finally:
        sys.path.remove(directory)
        for name in set(sys.modules) - before - {unique_name}:
            top = name.split(".")[0]
            from_this_dir = (module_file.parent / f"{top}.py").exists() or (module_file.parent / top).is_dir()
            if from_this_dir:
                del sys.modules[name]  # the function module keeps its own reference
    return module


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """The function's own environment while its module initialises (Powertools reads it at import)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def local_functions(resources: LocalResources, concurrent_environments: int = 2) -> dict[str, LocalFunction]:
    """Every template function; one whose queues allow concurrent invocations gets up to
    ``concurrent_environments`` environments (a small machine runs no more at once usefully)."""
    return {
        spec.logical_id: LocalFunction(spec, resources, min(queue_concurrency(spec), concurrent_environments))
        for spec in resources.functions
    }


def queue_concurrency(spec: FunctionSpec) -> int:
    """The most concurrent invocations any of the function's SQS event sources allows (1 without one)."""
    return max((event_concurrency(event) for event in spec.events_of_type("SQS")), default=1)


def event_concurrency(event: EventSpec) -> int:
    """Concurrent invocations an SQS event source allows: its ScalingConfig, else one at a time here."""
    return int((event.properties.get("ScalingConfig") or {}).get("MaximumConcurrency", 1))
