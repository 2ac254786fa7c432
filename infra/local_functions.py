"""Run the template's Lambda functions in this process, each loaded in isolation.

Every function's entry module is `app.py`, so they cannot all be imported as `app`: each is loaded
under a unique module name with its own directory first on `sys.path` only while it imports, and the
helper modules it brought from that directory are taken out of `sys.modules` again so the next
function's same-named helpers do not collide. One invocation per function at a time (a lock), like
one Lambda execution environment: Powertools resolvers keep the current event on a module global.
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

from infra.template_resources import FunctionSpec, LocalResources

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
    """One template function: its module loaded on first use, invoked under a per-function lock."""

    def __init__(self, spec: FunctionSpec, resources: LocalResources) -> None:
        self.spec = spec
        self.resources = resources
        self._module: ModuleType | None = None
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.logical_id

    @property
    def available(self) -> bool:
        return self.spec.module_file.is_file()

    def load(self) -> ModuleType:
        with self._load_lock:
            if self._module is None:
                with _environment(self.resources.env(self.name)):
                    self._module = load_isolated(self.spec.module_file, f"localfn_{self.name}")
            return self._module

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with `event` and a fresh context; exceptions propagate (the caller decides)."""
        handler = getattr(self.load(), self.spec.handler_name)
        context = LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.spec.memory_size,
            invoked_function_arn=(
                f"arn:aws:lambda:{self.resources.region}:{self.resources.account_id}:function:{self.name}"
            ),
            aws_request_id=str(uuid.uuid4()),
            timeout_seconds=self.spec.timeout,
        )
        with self._lock:
            started = time.monotonic()
            try:
                return handler(event, context)
            finally:
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


def local_functions(resources: LocalResources) -> dict[str, LocalFunction]:
    return {spec.logical_id: LocalFunction(spec, resources) for spec in resources.functions}
