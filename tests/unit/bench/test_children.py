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


def test_arrows_jemalloc_keeps_freed_pages_ten_seconds_in_the_functions_and_in_a_child():
    # Arrow's default (1 s) hands a pass's freed Parquet buffers back to the kernel between batches,
    # and every batch faults fresh pages in again; the functions' setting must be one jemalloc reads
    import subprocess
    import sys

    setting = _literal_globals()["JE_ARROW_MALLOC_CONF"]
    assert "dirty_decay_ms:10000" in setting.split(",")
    env = children.environment()
    assert env["JE_ARROW_MALLOC_CONF"] == setting
    env["JE_ARROW_MALLOC_CONF"] = f"{setting},stats_print:true,stats_print_opts:mdablxe"
    done = subprocess.run([sys.executable, "-c", "import pyarrow as pa; pa.allocate_buffer(1 << 20, "
                           "memory_pool=pa.jemalloc_memory_pool())"], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    assert "opt.dirty_decay_ms: 10000" in done.stderr
    assert "Invalid conf" not in done.stderr
