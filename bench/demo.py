"""`make run ARGS=--demo` timed as a newcomer meets it: seconds from the command to a stack that
answers with every demo segment evaluated, and where they go (issue 14: ready in under 45 s).

The stack runs as `python -m infra.localstack --demo` on a free port, exactly as `make run` starts
it; the demo prints its own step times (``Demo ready in ... (generate, import, segments, first
run)``), the rest of the wall time is the stack's start (moto, resources from template.yaml,
functions loaded). Ready is checked from outside too: the front door answers and every segment of
the demo tenant has a successful evaluation.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
READY_LINE = re.compile(r"Demo ready in ([\d.]+) s \((.*)\)")
STEP = re.compile(r"([a-z ]+?) ([\d.]+) s")
CPU_LINE = re.compile(r"Demo CPU stack \+ moto: (.*)")
CPU_STEP = re.compile(r"([a-z ]+?) ([\d.]+) \+ ([\d.]+) s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/_local/info", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one live process (Linux /proc), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def stack_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of the stack's process and of its moto child (``infra.local_moto``): on a
    loaded machine the wall time says little, the two processes' CPU says where the work is."""
    moto = sum(_cpu_seconds(child) for child in _children(pid))
    return {"stack": round(_cpu_seconds(pid), 1), "moto": round(moto, 1)}


def demo_ready(contacts: int | None = None, timeout: float = 900) -> dict[str, Any]:
    """Start the demo stack, wait until it is ready, stop it; seconds overall and per step."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.pop("PORT", None)
    if contacts:
        env["DEMO_CONTACTS"] = str(contacts)
    load_before = os.getloadavg()
    with tempfile.TemporaryFile("w+") as log:
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "infra.localstack", "--port", str(port), "--demo"],
                                   cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while not _answers(url):
                if process.poll() is not None or time.monotonic() - started > timeout:
                    log.seek(0)
                    raise RuntimeError(f"the demo stack did not come up:\n{log.read()[-3000:]}")
                time.sleep(0.2)
            ready_s = time.monotonic() - started
            info = requests.get(f"{url}/_local/info", timeout=10).json()
            key = info["tenants"][0]["api_key"]
            segments = requests.get(f"{url}/segments?limit=100", headers={"X-Api-Key": key}, timeout=30).json()
            cpu = stack_cpu(process.pid)
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.seek(0)
        output = log.read()
    found = READY_LINE.search(output)
    if not found:
        raise RuntimeError(f"the demo printed no 'Demo ready' line:\n{output[-3000:]}")
    steps = {name.strip(): float(seconds) for name, seconds in STEP.findall(found[2])}
    step_cpu = CPU_LINE.search(output)
    steps_cpu = (
        {name.strip(): (float(stack), float(moto)) for name, stack, moto in CPU_STEP.findall(step_cpu[1])}
        if step_cpu
        else {}
    )
    items = segments.get("items", [])
    evaluated = [s for s in items if s.get("last_evaluated_at") and s.get("evaluation_status") != "failed"]
    imported = re.search(r"(\d+) contacts imported", output)
    return {
        "first_run": run_phases(items),
        "contacts": int(imported[1]) if imported else None,
        "ready_s": ready_s,
        "demo_s": float(found[1]),
        "stack_start_s": ready_s - float(found[1]),
        "steps": steps,
        "steps_cpu": steps_cpu,  # step -> (stack, moto) CPU seconds, as the demo measured them
        "segments": len(items),
        "segments_evaluated": len(evaluated),
        "cpu_s": cpu,
        "members": sum(int(s.get("member_count") or 0) for s in items),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def run_phases(segments: list[dict[str, Any]]) -> dict[str, float]:
    """Where the first run's seconds went, from the ``last_run`` every evaluated segment carries:
    ``duration_ms`` is the whole run (lease, compaction, snapshot, plan, pass, then the segments'
    writes), ``writes_ms`` the segments' writes (memberships, history, state; ``write_ms`` one
    segment's: before segments were written a few at once, they added up to the write phase)."""
    runs = [s["last_run"] for s in segments if isinstance(s.get("last_run"), dict)]
    if not runs:
        return {}
    if any("writes_ms" in run for run in runs):  # the write phase's wall time (segments written at once)
        writes = max(int(run.get("writes_ms") or 0) for run in runs) / 1000
    else:  # written one after another
        writes = sum(int(run.get("write_ms") or 0) for run in runs) / 1000
    whole = max(int(run.get("duration_ms") or 0) for run in runs) / 1000
    passed = max(int(run.get("pass_ms") or 0) for run in runs) / 1000
    return {"before pass": round(whole - writes - passed, 1), "pass": round(passed, 1), "writes": round(writes, 1)}


def describe(result: dict[str, Any]) -> str:
    steps = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result["steps"].items())
    phases = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.get("first_run", {}).items())
    return (f"demo {result['contacts']:,} contacts: ready {result['ready_s']:.1f}s "
            f"(stack {result['stack_start_s']:.1f}s, {steps}); "
            f"{result['segments_evaluated']}/{result['segments']} segments evaluated; "
            + (f"first run {phases}; " if phases else "")
            + f"CPU stack {result['cpu_s']['stack']:.1f}s + moto {result['cpu_s']['moto']:.1f}s"
            + (" (" + ", ".join(f"{name} {stack:.1f} + {moto:.1f}s" for name, (stack, moto)
                                in result.get("steps_cpu", {}).items()) + ")" if result.get("steps_cpu") else "")
            + "; load "
            f"{result['load_before'][0]:.1f} -> {result['load_after'][0]:.1f}")


if __name__ == "__main__":
    print(describe(demo_ready(int(sys.argv[1]) if len(sys.argv) > 1 else None)))
