"""schemathesis against the local stack: every operation of the served OpenAPI document, all phases
(examples, coverage, fuzzing, stateful through the document's links), a fixed seed and a bounded
number of examples. A run fails on any 5xx and on any response the document does not describe.

    python -m tests.e2e.fuzz [--seeds 1 2] [--max-examples 25] [--workers 1]   (what `make fuzz` runs)

It starts a fresh local stack per seed (``python -m infra.localstack`` on a port the system hands
out, never the default 3000) and in it a fresh tenant named after the seed, seeded with a few of
everything requests must name (``seed_tenant``), or uses ``--url``/``--api-key`` for a stack and
tenant already running. One stack per seed and one schemathesis worker (``--workers 1``, the
default) make a seed's run as repeatable as schemathesis allows: its generation (every phase,
stateful included) is fixed by ``--seed``, no example database, and what the service answers no
longer depends on another seed's leftovers or on which of two workers reached an operation first
(captured ids feed later operations). What stays outside a seed: server-made ids and timestamps, and
background work (jobs, the hourly scheduled evaluation) finishing sooner or later.

schemathesis draws the names the document marks with a tenant-name format from the tenant (hooks:
``tests/e2e/fuzz_hooks.py``), and a "schema validation mismatch" warning on any operation fails the
run. Settings: ``tests/e2e/schemathesis.toml``.
``tests/e2e/test_fuzz_e2e.py`` runs the same with a small budget inside ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from audience.json_types import CATEGORY_NAME, CONTACT_ID, FIELD_NAME, SEGMENT_ID

from tests.e2e.fuzz_hooks import NAMES_ENV

CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
PHASES = "examples,coverage,fuzzing,stateful"


_MISMATCH = re.compile(r"Schema validation mismatch:.*?\n\n(?P<items>(?:\s+- .+\n)+)")


def mismatched_operations(output: str) -> list[str]:
    """The operations schemathesis' "schema validation mismatch" warning names ("POST /segments"):
    every schema-valid request the run sent them was refused, mostly with 400/422. The document
    says what the validation enforces and the hooks supply the tenant's names, so any is a failure."""
    found = _MISMATCH.search(output)
    return [line.strip()[2:] for line in found.group("items").splitlines()] if found else []


# The fuzz tenant: a few of everything that requests must name, so that schema-valid data drawn
# through the tenant-name formats (tests/e2e/fuzz_hooks.py) is data the service takes.
# No custom fields: a rule condition (or a mass update) on a custom field only parses with an operator
# (or a value) of its type, which the one document for every tenant cannot say; the built-in fields'
# operators and values it does state (the rule schema's if/then per type). With two custom fields
# about a quarter of the schema-valid rules drawn for preview were taken, with none 88 of 100.
CATEGORIES = ("lifecycle", "region")
CONTACTS = 8


def _contact(number: int) -> dict:
    return {
        "email": f"fuzz{number}@example.com",
        "first_name": f"Fuzz {number}",
        "country": ("US", "DE", "FR")[number % 3],
        "age": 20 + 7 * number,
        "subscribed": number % 2 == 0,
        "tags": ["fuzz", ("vip", "trial")[number % 2]],
    }


def _caller(url: str, api_key: str):
    session = requests.Session()
    session.headers["X-Api-Key"] = api_key

    def call(method: str, path: str, body: dict | None = None) -> dict:
        answer = session.request(method, f"{url}{path}", json=body, timeout=60)
        if not answer.ok:
            raise RuntimeError(f"fuzz tenant: {method} {path} -> {answer.status_code} {answer.text}")
        return answer.json()

    return call


def tenant_names(url: str, api_key: str) -> dict[str, list[str]]:
    """The names each tenant-name format may take in this tenant, as its API lists them."""
    call = _caller(url, api_key)
    return {
        SEGMENT_ID: [item["id"] for item in call("GET", "/segments?limit=500")["items"]],
        CONTACT_ID: [item["contact_id"] for item in call("GET", "/contacts?limit=500")["items"]],
        FIELD_NAME: [item["name"] for item in call("GET", "/fields")["items"]],
        CATEGORY_NAME: [item["name"] for item in call("GET", "/categories")["items"]],
    }


def seed_tenant(url: str, api_key: str) -> None:
    """Categories, contacts and segments (static with members, dynamic, public, in a category or not)
    in a fresh fuzz tenant, and a snapshot of it."""
    call = _caller(url, api_key)

    for name in CATEGORIES:
        call("POST", "/categories", {"name": name})
    contacts = [f"fuzz-{number}" for number in range(1, CONTACTS + 1)]
    for number, contact in enumerate(contacts, start=1):
        call("PUT", f"/contacts/{contact}", _contact(number))
    drafts = [
        ({"name": "Fuzz static", "type": "static", "public": True}, contacts[:4]),
        ({"name": "Fuzz static lifecycle", "type": "static", "public": True, "category": "lifecycle"}, contacts[4:6]),
        ({"name": "Fuzz static empty", "type": "static", "public": True}, []),
        ({"name": "Fuzz dynamic", "type": "dynamic", "public": True,
          "rules": {"field": "country", "op": "in", "value": ["US", "DE"]}}, []),
        ({"name": "Fuzz dynamic region", "type": "dynamic", "public": True, "category": "region",
          "rules": {"field": "age", "op": "gte", "value": 30}}, []),
    ]  # fmt: skip
    for draft, members in drafts:
        segment = call("POST", "/segments", draft)
        if members:
            call("POST", f"/segments/{segment['id']}/members", {"contact_ids": members})
    call("POST", "/segments/preview", {"rules": {"field": "subscribed", "op": "is_true"}})  # the first snapshot


@dataclass
class FuzzRun:
    seed: int
    returncode: int
    output: str
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and not self.mismatches

    def figure(self, pattern: str) -> str:
        found = re.search(pattern, self.output)
        return found.group(1) if found else "?"

    def summary(self) -> str:
        operations = self.figure(r"Tested:\s+(\d+)")
        cases = self.figure(r"(\d+) generated")
        failures = self.figure(r"(\d+) failures?,") if self.returncode else "0"
        summary = f"seed {self.seed}: {operations} operations, {cases} test cases, {failures} failures"
        if self.mismatches:
            summary += "; schema validation mismatch on " + ", ".join(self.mismatches)
        return summary


def tenant_key(url: str, name: str = "Fuzz") -> str:
    """A fresh tenant on the local stack (``POST /_local/tenants``) and its API key."""
    answer = requests.post(f"{url}/_local/tenants", json={"name": name}, timeout=30)
    answer.raise_for_status()
    return answer.json()["api_key"]


def fuzz_tenant(url: str, name: str = "Fuzz") -> tuple[str, dict[str, list[str]]]:
    """A fresh, seeded tenant: its API key and its names by format."""
    key = tenant_key(url, name)
    seed_tenant(url, key)
    return key, tenant_names(url, key)


def run_schemathesis(
    url: str,
    api_key: str,
    names: dict[str, list[str]],
    *,
    seed: int,
    max_examples: int,
    workers: int = 1,
    phases: str = PHASES,
    judge_mismatch: bool = True,
) -> FuzzRun:
    """One schemathesis run. ``judge_mismatch=False`` leaves out the "schema validation mismatch"
    warning (and so its failure): a run of a few examples per operation sends one or two schema-valid
    requests to each, too few for "every one was refused" to say anything about the document."""
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
    if not judge_mismatch:
        from schemathesis.config import SchemathesisWarning

        shown = [w.value for w in SchemathesisWarning if w is not SchemathesisWarning.VALIDATION_MISMATCH]
        command += ["--warnings", ",".join(shown)]
    with tempfile.TemporaryDirectory(prefix="fuzz-names-") as directory:
        names_file = Path(directory) / "names.json"
        names_file.write_text(json.dumps(names))
        env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), NAMES_ENV: str(names_file)}
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    output = done.stdout + done.stderr
    return FuzzRun(seed=seed, returncode=done.returncode, output=output, mismatches=mismatched_operations(output))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--workers", type=int, default=1, help="more is faster but not repeatable per seed")
    parser.add_argument("--url", help="a local stack already running (default: start one)")
    parser.add_argument("--api-key", help="with --url: the tenant's key (default: a new tenant)")
    args = parser.parse_args(argv)

    runs = []
    logs = {}
    for seed in args.seeds:
        started = time.monotonic()
        stack = None
        url = args.url
        if url is None:
            from tests.e2e.conftest import start_stack

            stack = start_stack(Path(tempfile.mkdtemp(prefix=f"fuzz-seed{seed}-")) / "localstack.log")
            url = stack.url
            logs[seed] = stack.log_path
        try:
            if args.api_key:
                key, names = args.api_key, tenant_names(url, args.api_key)
            else:
                key, names = fuzz_tenant(url, f"Fuzz seed {seed}")
            run = run_schemathesis(url, key, names, seed=seed, max_examples=args.max_examples, workers=args.workers)
        finally:
            if stack is not None:
                stack.stop()
        run.seconds = time.monotonic() - started
        print(run.output, flush=True)
        runs.append(run)
    for run in runs:
        print(("PASS " if run.passed else "FAIL ") + run.summary() + f" ({run.seconds:.0f} s)")
        if not run.passed and run.seed in logs:
            print(f"  local stack log: {logs[run.seed]}")
    return 0 if all(run.passed for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
