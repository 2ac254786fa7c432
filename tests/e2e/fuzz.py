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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import requests

CONFIG = Path(__file__).with_name("schemathesis.toml")
PHASES = "examples,coverage,fuzzing,stateful"


_MISMATCH = re.compile(r"Schema validation mismatch:.*?\n\n(?P<items>(?:\s+- .+\n)+)")


def mismatched_operations(output: str) -> list[str]:
    """The operations schemathesis' "schema validation mismatch" warning names ("POST /segments")."""
    found = _MISMATCH.search(output)
    return [line.strip()[2:] for line in found.group("items").splitlines()] if found else []


def stricter_than_schema(document: dict) -> set[str]:
    """The operations (``METHOD /path``) the config names as refusing some schema-valid data for
    what no schema can say (names that must exist in the tenant, opaque tokens): the ones whose
    ``positive_data_acceptance`` expects a 400 or 422 too."""
    config = tomllib.loads(CONFIG.read_text())
    ids: set[str] = set()
    for entry in config.get("operations", []):
        statuses = entry.get("checks", {}).get("positive_data_acceptance", {}).get("expected-statuses", [])
        if {"400", "422"} & set(statuses):
            chosen = entry.get("include-operation-id", [])
            ids.update([chosen] if isinstance(chosen, str) else chosen)
    return {
        f"{method.upper()} {path}"
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if isinstance(operation, dict) and operation.get("operationId") in ids
    }


@dataclass
class FuzzRun:
    seed: int
    returncode: int
    output: str
    unexpected_mismatches: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and not self.unexpected_mismatches

    def figure(self, pattern: str) -> str:
        found = re.search(pattern, self.output)
        return found.group(1) if found else "?"

    def summary(self) -> str:
        operations = self.figure(r"Tested:\s+(\d+)")
        cases = self.figure(r"(\d+) generated")
        failures = self.figure(r"(\d+) failures?,") if self.returncode else "0"
        summary = f"seed {self.seed}: {operations} operations, {cases} test cases, {failures} failures"
        if self.unexpected_mismatches:
            summary += "; schema validation mismatch on " + ", ".join(self.unexpected_mismatches)
        return summary


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
    output = done.stdout + done.stderr
    expected = stricter_than_schema(requests.get(f"{url}/openapi.json", timeout=30).json())
    unexpected = [label for label in mismatched_operations(output) if label not in expected]
    return FuzzRun(seed=seed, returncode=done.returncode, output=output, unexpected_mismatches=unexpected)


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
