"""Benchmark children run with the deployed functions' runtime settings from template.yaml."""

from __future__ import annotations

from bench import children
from infra.template_resources import load_template


def _literal_globals() -> dict[str, str]:
    variables = load_template().global_function_properties["Environment"]["Variables"]
    return {name: value for name, value in variables.items() if isinstance(value, str)}


def test_a_child_gets_every_literal_setting_the_templates_globals_give_the_functions():
    wanted = _literal_globals()
    seen = children.run_json(f"import os\nprint(json.dumps({{n: os.environ.get(n) for n in {sorted(wanted)!r}}}))",
                             timeout=60)
    assert seen == wanted
    assert seen["ARROW_DEFAULT_MEMORY_POOL"] == "jemalloc"


def test_the_functions_keep_numpy_to_one_blas_thread_and_so_does_a_child():
    assert _literal_globals()["OPENBLAS_NUM_THREADS"] == "1"
    threads = children.run_json("import os, numpy\nprint(len(os.listdir('/proc/self/task')))", timeout=60)
    assert threads == 1  # unset, OpenBLAS starts one thread per core at numpy's import


def test_a_benchmark_may_override_one_setting_and_keeps_the_project_on_the_path():
    env = children.environment(ARROW_DEFAULT_MEMORY_POOL="system")
    assert env["ARROW_DEFAULT_MEMORY_POOL"] == "system"
    assert env["OPENBLAS_NUM_THREADS"] == "1"
    assert str(children.PROJECT_ROOT / "layers" / "audience") in env["PYTHONPATH"].split(":")
