"""What makes a `make fuzz` seed repeatable (tests/e2e/fuzz.py) and what schemathesis draws for the
segment bodies whose refusals made runs of the same seed differ (issue 19)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.e2e import fuzz
from tests.unit.fuzz.test_fuzz_hooks import bodies


@dataclass
class FakeStack:
    url: str
    log_path: str
    events: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.events.append(f"stop {self.url}")


def test_each_seed_runs_on_a_fresh_stack_and_tenant_of_its_own_with_one_worker(monkeypatch, tmp_path):
    # one stack for every seed let seed 3 meet seed 1's and 2's leftovers (and background jobs),
    # and two workers decided by timing which captured ids later requests used
    events: list[str] = []
    started: list[FakeStack] = []

    def start_stack(log_path, *args):
        stack = FakeStack(url=f"http://127.0.0.1:{4100 + len(started)}", log_path=str(log_path), events=events)
        events.append(f"start {stack.url}")
        started.append(stack)
        return stack

    def fuzz_tenant(url, name):
        events.append(f"tenant {name} on {url}")
        return "key", {}

    def run_schemathesis(url, key, names, *, seed, max_examples, workers):
        events.append(f"run seed {seed} on {url} with {workers} worker(s)")
        return fuzz.FuzzRun(seed=seed, returncode=0, output="Tested: 1\n")

    monkeypatch.setattr(fuzz.tempfile, "mkdtemp", lambda prefix: str(tmp_path / prefix))
    monkeypatch.setattr("tests.e2e.conftest.start_stack", start_stack)
    monkeypatch.setattr(fuzz, "fuzz_tenant", fuzz_tenant)
    monkeypatch.setattr(fuzz, "run_schemathesis", run_schemathesis)

    assert fuzz.main(["--seeds", "1", "3"]) == 0
    assert events == [
        "start http://127.0.0.1:4100",
        "tenant Fuzz seed 1 on http://127.0.0.1:4100",
        "run seed 1 on http://127.0.0.1:4100 with 1 worker(s)",
        "stop http://127.0.0.1:4100",
        "start http://127.0.0.1:4101",
        "tenant Fuzz seed 3 on http://127.0.0.1:4101",
        "run seed 3 on http://127.0.0.1:4101 with 1 worker(s)",
        "stop http://127.0.0.1:4101",
    ]


def test_drawn_segment_bodies_carry_rules_only_for_the_dynamic_type():
    # a static segment with rules or a dynamic one without is refused (422 at /rules): the document
    # says so, so schemathesis draws bodies the service takes instead of refusals half the time
    drawn = bodies("/segments", "POST", count=60)
    assert {body["type"] for body in drawn} == {"static", "dynamic"}
    for body in drawn:
        has_rules = body.get("rules") is not None
        assert has_rules == (body["type"] == "dynamic"), body


def test_drawn_replacement_bodies_may_leave_the_type_out():
    drawn = bodies("/segments/{segment_id}", "PUT", count=60)
    assert any("type" not in body for body in drawn)
    assert all(body.get("rules") is None for body in drawn if body.get("type") == "static")
