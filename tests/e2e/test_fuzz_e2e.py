"""schemathesis over the running local stack with a small budget (the bigger run is `make fuzz`):
every operation, every phase including stateful, a fixed seed; no 5xx, nothing the document does
not describe."""

from __future__ import annotations

import pytest

from tests.e2e.fuzz import run_schemathesis, tenant_key

pytestmark = pytest.mark.e2e


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(local_stack):
    run = run_schemathesis(local_stack.url, tenant_key(local_stack.url), seed=7, max_examples=2)
    assert run.passed, run.output[-6000:] + "\n" + local_stack.log()[-4000:]
    assert run.figure(r"Tested:\s+(\d+)") == run.figure(r"Selected:\s+(\d+)/")
