"""schemathesis against the local stack: every operation of the served OpenAPI document, all phases
(examples, coverage, fuzzing, stateful through the document's links), a fixed seed and a bounded
number of examples. A run fails on any 5xx and on any response the document does not describe.

    python -m tests.e2e.fuzz [--seeds 1 2] [--max-examples 25] [--workers 2]   (what `make fuzz` runs)

It starts its own local stack (``python -m infra.localstack`` on a free port) and a fresh tenant,
or uses ``--url``/``--api-key`` for a stack already running. Settings: ``tests/e2e/schemathesis.toml``.
``tests/e2e/test_fuzz_e2e.py`` runs the same with a small budget inside ``make test``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

CONFIG = Path(__file__).with_name("schemathesis.toml")
PHASES = "examples,coverage,fuzzing,stateful"


@dataclass
class FuzzRun:
    seed: int
    returncode: int
    output: str

    @property
    def passed(self) -> bool:
        return self.returncode == 0

    def figure(self, pattern: str) -> str:
        found = re.search(pattern, self.output)
        return found.group(1) if found else "?"

    def summary(self) -> str:
        operations = self.figure(r"Tested:\s+(\d+)")
        cases = self.figure(r"(\d+) generated")
        failures = self.figure(r"(\d+) failures?,") if not self.passed else "0"
        return f"seed {self.seed}: {operations} operations, {cases} test cases, {failures} failures"


def tenant_key(url: str, name: str = "Fuzz") -> str:
    """A fresh tenant on the local stack (``POST /_local/tenants``) and its API key."""
    answer = requests.post(f"{url}/_local/tenants", json={"name": name}, timeout=30)
    answer.raise_for_status()
    return answer.json()["api_key"]


def run_schemathesis(
    url: str, api_key: str, *, seed: int, max_examples: int, workers: int = 1, phases: str = PHASES
) -> FuzzRun:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{url}/openapi.json",
        "--header",
        f"X-Api-Key: {api_key}",
        "--phases",
        phases,
        "--seed",
        str(seed),
        "--max-examples",
        str(max_examples),
        "--workers",
        str(workers),
        "--request-timeout",
        "30",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return FuzzRun(seed=seed, returncode=done.returncode, output=done.stdout + done.stderr)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--url", help="a local stack already running (default: start one)")
    parser.add_argument("--api-key", help="with --url: the tenant's key (default: a new tenant)")
    args = parser.parse_args(argv)

    stack = None
    url = args.url
    if url is None:
        from tests.e2e.conftest import start_stack

        stack = start_stack(Path(tempfile.mkdtemp(prefix="fuzz-")) / "localstack.log")
        url = stack.url
    try:
        runs = []
        for seed in args.seeds:
            key = args.api_key or tenant_key(url, f"Fuzz seed {seed}")
            run = run_schemathesis(url, key, seed=seed, max_examples=args.max_examples, workers=args.workers)
            print(run.output)
            runs.append(run)
        for run in runs:
            print(("PASS " if run.passed else "FAIL ") + run.summary())
        if stack is not None and not all(run.passed for run in runs):
            print(f"local stack log: {stack.log_path}")
        return 0 if all(run.passed for run in runs) else 1
    finally:
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
