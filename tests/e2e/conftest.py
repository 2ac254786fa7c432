"""The local stack as a subprocess (`python -m infra.localstack`), driven only over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningStack:
    process: subprocess.Popen
    url: str
    log_path: Path

    def info(self) -> dict:
        return requests.get(f"{self.url}/_local/info", timeout=10).json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tracebacks(self) -> str:
        """Every traceback in the stack's log with the line that logged it: what a failed test needs
        to show, however long the log grew after it (a tail can miss it)."""
        lines, kept, inside = self.log().splitlines(), [], False
        for number, line in enumerate(lines):
            if line.startswith("Traceback (most recent call last)"):
                inside = True
                kept += ["", lines[number - 1] if number else ""]
            if inside:
                kept.append(line)
                inside = line.startswith((" ", "Traceback", "During handling", "The above")) or not line.strip()
        return "\n".join(kept)

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)


def start_stack(log_path: Path, *args: str) -> RunningStack:
    """Start the local stack and wait until its front door answers."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
    env.pop("PORT", None)
    for name in (
        "MAIN_TABLE",
        "CONTACTS_TABLE",
        "MEMBERSHIPS_TABLE",
        "IDEMPOTENCY_TABLE",
        "IMPORT_BUCKET",
        "DATA_BUCKET",
        "EXPORT_BUCKET",
        "JOBS_QUEUE_URL",
        "EVALUATE_QUEUE_URL",
    ):
        env.pop(name, None)
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.localstack", "--port", str(port), *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    stack = RunningStack(process=process, url=f"http://127.0.0.1:{port}", log_path=log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local stack exited with {process.returncode}:\n{stack.log()}")
        try:
            if requests.get(f"{stack.url}/_local/info", timeout=5).status_code == 200:
                return stack
        except requests.RequestException:  # not listening yet, or too busy to answer in time
            pass
        time.sleep(0.2)
    stack.stop()
    raise RuntimeError(f"local stack not ready after {STARTUP_TIMEOUT}s:\n{stack.log()}")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory) -> Iterator[RunningStack]:
    stack = start_stack(tmp_path_factory.mktemp("localstack") / "localstack.log")
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def api_key(local_stack) -> str:
    """A fresh tenant's key (tests share the stack, not the tenant's data)."""
    answer = requests.post(f"{local_stack.url}/_local/tenants", json={"name": "E2E Tests"}, timeout=10)
    answer.raise_for_status()
    return answer.json()["api_key"]
