"""The local stack runs a function's concurrent invocations as Lambda does: in separate environments,
as many at once as its queue's ScalingConfig allows (capped for a small machine), else one at a time."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from infra.local_functions import LocalFunction, event_concurrency, local_functions
from infra.template_resources import load_template, plan_resources

HANDLER = """
import threading

ENVIRONMENT = object()  # one per loaded copy of the module
RUNNING = []


def handler(event, context):
    RUNNING.append(1)
    try:
        event["together"].wait(timeout=event["timeout"])  # returns when the other invocation runs too
        return id(ENVIRONMENT), len(RUNNING)
    except threading.BrokenBarrierError:
        return None  # it did not: the test reads the barrier
    finally:
        RUNNING.pop()
"""


@pytest.fixture(scope="module")
def resources():
    return plan_resources(load_template())


def function_of(resources, folder, environments: int) -> LocalFunction:
    """The importer's template entry with a small handler of the test's own in place of its code."""
    (folder / "app.py").write_text(HANDLER)
    importer = resources.template.function("ImporterFunction")
    spec = dataclasses.replace(importer, code_uri=str(folder), handler="app.handler")
    return LocalFunction(spec, resources, environments=environments)


def invoke_twice_at_once(function: LocalFunction, timeout: float) -> tuple[threading.Barrier, list]:
    together, answers = threading.Barrier(2), []
    event = {"together": together, "timeout": timeout}
    threads = [threading.Thread(target=lambda: answers.append(function.invoke(event))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return together, answers


def test_only_functions_whose_queue_allows_concurrency_get_more_than_one_environment(resources):
    functions = local_functions(resources, concurrent_environments=2)
    importer = functions["ImporterFunction"]
    assert importer.environments == 2  # ImportChunksQueue: MaximumConcurrency 10, capped at 2
    assert max(event_concurrency(e) for e in importer.spec.events_of_type("SQS")) == 10
    assert functions["ApiFunction"].environments == 1
    assert all(f.environments == 1 for f in local_functions(resources, concurrent_environments=1).values())


def test_concurrent_invocations_run_at_once_each_in_its_own_environment(resources, tmp_path):
    function = function_of(resources, tmp_path, environments=2)
    together, answers = invoke_twice_at_once(function, timeout=5)
    assert not together.broken, "the two invocations did not run at the same time"
    assert len({environment for environment, _ in answers}) == 2  # two copies of the module
    assert all(running == 1 for _, running in answers)  # each copy runs one invocation at a time
    again = function.invoke({"together": threading.Barrier(1), "timeout": 1})
    assert again[0] in {environment for environment, _ in answers}  # an idle environment is reused


def test_one_environment_runs_invocations_one_after_another(resources, tmp_path):
    together, answers = invoke_twice_at_once(function_of(resources, tmp_path, environments=1), timeout=0.5)
    assert together.broken and answers == [None, None]  # neither could wait for the other: one at a time
