"""schemathesis over the running local stack with a small budget (~20 s; the bigger run, with the
coverage phase's ~1,700 boundary cases, is `make fuzz`): every operation, examples, fuzzing and
stateful phases, a fixed seed; no 5xx, nothing the document does not describe. Three examples per
operation are too few to judge schemathesis' "schema validation mismatch" warning; `make fuzz` does."""

from __future__ import annotations

import pytest

from tests.e2e.fuzz import fuzz_tenant, run_schemathesis

pytestmark = pytest.mark.e2e


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(local_stack):
    key, names = fuzz_tenant(local_stack.url)
    run = run_schemathesis(local_stack.url, key, names, seed=7, max_examples=3, phases="examples,fuzzing,stateful",
                           judge_mismatch=False)
    assert run.passed, run.output[-6000:] + "\n" + local_stack.tracebacks()[-8000:]
    assert run.figure(r"Tested:\s+(\d+)") == run.figure(r"Selected:\s+(\d+)/")
